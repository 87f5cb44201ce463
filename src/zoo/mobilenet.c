/* MobileNetV2 (width 1.0), exactly torchvision.models.mobilenet_v2: ReLU6 is exported as
 * Clip(0, 6); the adaptive average pool to 1x1 is a global average pool. Names follow
 * torchvision's state_dict (Conv2dNormActivation = conv .0, BatchNorm .1, ReLU6 .2). */
#include <stdio.h>

#include "zoo/builder.h"

/* Conv2dNormActivation: conv (no bias, pad (k-1)/2) -> BatchNorm -> ReLU6, named
 * "<prefix>.0/.1/.2". */
static int conv_bn_relu6(mr_zb *b, int x, const char *prefix, int cin, int cout, int k, int stride,
                         int groups) {
    char cn[64], bnn[64], rn[64];
    snprintf(cn, sizeof cn, "%s.0", prefix);
    snprintf(bnn, sizeof bnn, "%s.1", prefix);
    snprintf(rn, sizeof rn, "%s.2", prefix);
    int y = mr_zb_conv(b, x, cn, cin, cout, k, stride, (k - 1) / 2, groups, 0);
    return mr_zb_relu6(b, mr_zb_bn(b, y, bnn, cout), rn);
}

/* InvertedResidual: [1x1 expand] -> 3x3 depthwise(stride) -> 1x1 project + BatchNorm (no
 * activation), plus the input when the shapes allow (stride 1, inp == oup). */
static int inverted_residual(mr_zb *b, int x, int idx, int inp, int oup, int stride, int t) {
    int hidden = inp * t; /* round(inp * t) for integer t */
    char p[64], cn[64], bnn[64];
    int j = 0, y = x;
    if (t != 1) {
        snprintf(p, sizeof p, "features.%d.conv.%d", idx, j++);
        y = conv_bn_relu6(b, y, p, inp, hidden, 1, 1, 1);
    }
    snprintf(p, sizeof p, "features.%d.conv.%d", idx, j++);
    y = conv_bn_relu6(b, y, p, hidden, hidden, 3, stride, hidden);
    snprintf(cn, sizeof cn, "features.%d.conv.%d", idx, j++);
    snprintf(bnn, sizeof bnn, "features.%d.conv.%d", idx, j++);
    y = mr_zb_bn(b, mr_zb_conv(b, y, cn, hidden, oup, 1, 1, 0, 1, 0), bnn, oup);
    if (stride == 1 && inp == oup) {
        char an[64];
        snprintf(an, sizeof an, "features.%d.add", idx);
        y = mr_zb_add(b, x, y, an);
    }
    return y;
}

mr_status mr_zoo_build_mobilenet_v2(mr_zb *b) {
    /* t (expansion), c (channels), n (repeats), s (stride of the first repeat) */
    static const int cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int64_t in_dims[4] = {1, 3, 224, 224};
    int x = mr_zb_input(b, "input", 4, in_dims);
    x = conv_bn_relu6(b, x, "features.0", 3, 32, 3, 2, 1);
    int cin = 32, idx = 1;
    for (int i = 0; i < 7; i++)
        for (int r = 0; r < cfg[i][2]; r++) {
            x = inverted_residual(b, x, idx++, cin, cfg[i][1], r == 0 ? cfg[i][3] : 1, cfg[i][0]);
            cin = cfg[i][1];
        }
    x = conv_bn_relu6(b, x, "features.18", cin, 1280, 1, 1, 1);
    x = mr_zb_global_avgpool(b, x, "avgpool");
    x = mr_zb_flatten(b, x, "flatten", NULL);
    /* classifier: Dropout(0.2), Linear(1280, 1000). */
    x = mr_zb_linear(b, x, "classifier.1", 1280, 1000, "logits");
    mr_zb_output(b, x);
    return mr_zb_status(b);
}

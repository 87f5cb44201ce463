/* SqueezeNet 1.1, exactly torchvision.models.squeezenet1_1. Its max pools use ceil_mode=True
 * (111 -> 55 -> 27 -> 13), and the classifier is a 1x1 convolution to 1000 channels, ReLU,
 * then AdaptiveAvgPool2d((1,1)) (a global average pool) and flatten. */
#include <stdio.h>

#include "zoo/builder.h"

/* Fire: squeeze 1x1 + ReLU, then expand1x1 + ReLU and expand3x3 (pad 1) + ReLU, concatenated
 * along channels. */
static int fire(mr_zb *b, int x, int idx, int cin, int squeeze, int e1, int e3) {
    char n[6][48];
    static const char *const part[6] = {"squeeze",   "squeeze_activation",
                                        "expand1x1", "expand1x1_activation",
                                        "expand3x3", "expand3x3_activation"};
    for (int i = 0; i < 6; i++) snprintf(n[i], sizeof n[i], "features.%d.%s", idx, part[i]);
    int s = mr_zb_relu(b, mr_zb_conv(b, x, n[0], cin, squeeze, 1, 1, 0, 1, 1), n[1]);
    int cat[2];
    cat[0] = mr_zb_relu(b, mr_zb_conv(b, s, n[2], squeeze, e1, 1, 1, 0, 1, 1), n[3]);
    cat[1] = mr_zb_relu(b, mr_zb_conv(b, s, n[4], squeeze, e3, 3, 1, 1, 1, 1), n[5]);
    char cn[48];
    snprintf(cn, sizeof cn, "features.%d.cat", idx);
    return mr_zb_concat(b, 2, cat, 1, cn);
}

mr_status mr_zoo_build_squeezenet1_1(mr_zb *b) {
    int64_t in_dims[4] = {1, 3, 224, 224};
    int x = mr_zb_input(b, "input", 4, in_dims);
    x = mr_zb_conv(b, x, "features.0", 3, 64, 3, 2, 0, 1, 1); /* 111x111 */
    x = mr_zb_relu(b, x, "features.1");
    x = mr_zb_maxpool(b, x, "features.2", 3, 2, 0, 1); /* 55x55 */
    x = fire(b, x, 3, 64, 16, 64, 64);
    x = fire(b, x, 4, 128, 16, 64, 64);
    x = mr_zb_maxpool(b, x, "features.5", 3, 2, 0, 1); /* 27x27 */
    x = fire(b, x, 6, 128, 32, 128, 128);
    x = fire(b, x, 7, 256, 32, 128, 128);
    x = mr_zb_maxpool(b, x, "features.8", 3, 2, 0, 1); /* 13x13 */
    x = fire(b, x, 9, 256, 48, 192, 192);
    x = fire(b, x, 10, 384, 48, 192, 192);
    x = fire(b, x, 11, 384, 64, 256, 256);
    x = fire(b, x, 12, 512, 64, 256, 256);
    /* classifier: Dropout, Conv2d(512, 1000, 1), ReLU, AdaptiveAvgPool2d((1,1)). */
    x = mr_zb_conv(b, x, "classifier.1", 512, 1000, 1, 1, 0, 1, 1);
    x = mr_zb_relu(b, x, "classifier.2");
    x = mr_zb_global_avgpool(b, x, "classifier.3");
    x = mr_zb_flatten(b, x, "flatten", "logits");
    mr_zb_output(b, x);
    return mr_zb_status(b);
}

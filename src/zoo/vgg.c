/* Plain convolution stacks: torchvision.models.vgg16 (configuration "D", no BatchNorm) and
 * torchvision.models.alexnet. Layer names carry torchvision's Sequential indices
 * ("features.0", "classifier.6"), so they match the state_dict.
 *
 * At 224x224 the AdaptiveAvgPool2d of both models sees exactly its output size (7x7 for VGG,
 * 6x6 for AlexNet) and is an identity, so it is omitted, as are the Dropout layers
 * (inference). */
#include <stdio.h>

#include "zoo/builder.h"

static int conv_relu(mr_zb *b, int x, int idx, int cin, int cout, int k, int stride, int pad) {
    char cn[32], rn[32];
    snprintf(cn, sizeof cn, "features.%d", idx);
    snprintf(rn, sizeof rn, "features.%d", idx + 1);
    return mr_zb_relu(b, mr_zb_conv(b, x, cn, cin, cout, k, stride, pad, 1, 1), rn);
}

static int pool(mr_zb *b, int x, int idx, int k, int stride) {
    char pn[32];
    snprintf(pn, sizeof pn, "features.%d", idx);
    return mr_zb_maxpool(b, x, pn, k, stride, 0, 0);
}

/* classifier.<idx> Linear (+ classifier.<idx+1> ReLU unless last). */
static int fc(mr_zb *b, int x, int idx, int in, int out, int last) {
    char ln[32], rn[32];
    snprintf(ln, sizeof ln, "classifier.%d", idx);
    snprintf(rn, sizeof rn, "classifier.%d", idx + 1);
    int y = mr_zb_linear(b, x, ln, in, out, last ? "logits" : NULL);
    return last ? y : mr_zb_relu(b, y, rn);
}

mr_status mr_zoo_build_vgg16(mr_zb *b) {
    /* cfg "D"; 0 = MaxPool2d(2, 2). */
    static const int cfg[] = {64, 64,  0,   128, 128, 0,   256, 256, 256,
                              0,  512, 512, 512, 0,   512, 512, 512, 0};
    int64_t in_dims[4] = {1, 3, 224, 224};
    int x = mr_zb_input(b, "input", 4, in_dims);
    int cin = 3, idx = 0;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        if (cfg[i] == 0) {
            x = pool(b, x, idx, 2, 2);
            idx += 1;
        } else {
            x = conv_relu(b, x, idx, cin, cfg[i], 3, 1, 1);
            cin = cfg[i];
            idx += 2;
        }
    }
    x = mr_zb_flatten(b, x, "flatten", NULL);
    /* classifier: Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear. */
    x = fc(b, x, 0, 512 * 7 * 7, 4096, 0);
    x = fc(b, x, 3, 4096, 4096, 0);
    x = fc(b, x, 6, 4096, 1000, 1);
    mr_zb_output(b, x);
    return mr_zb_status(b);
}

mr_status mr_zoo_build_alexnet(mr_zb *b) {
    int64_t in_dims[4] = {1, 3, 224, 224};
    int x = mr_zb_input(b, "input", 4, in_dims);
    x = conv_relu(b, x, 0, 3, 64, 11, 4, 2); /* 55x55 */
    x = pool(b, x, 2, 3, 2);                 /* 27x27 */
    x = conv_relu(b, x, 3, 64, 192, 5, 1, 2);
    x = pool(b, x, 5, 3, 2); /* 13x13 */
    x = conv_relu(b, x, 6, 192, 384, 3, 1, 1);
    x = conv_relu(b, x, 8, 384, 256, 3, 1, 1);
    x = conv_relu(b, x, 10, 256, 256, 3, 1, 1);
    x = pool(b, x, 12, 3, 2); /* 6x6 */
    x = mr_zb_flatten(b, x, "flatten", NULL);
    /* classifier: Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear. */
    x = fc(b, x, 1, 256 * 6 * 6, 4096, 0);
    x = fc(b, x, 4, 4096, 4096, 0);
    x = fc(b, x, 6, 4096, 1000, 1);
    mr_zb_output(b, x);
    return mr_zb_status(b);
}

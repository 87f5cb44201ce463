/* ResNet-18 and ResNet-50, exactly torchvision.models.resnet18 / resnet50 (v1.5: the stride of
 * a downsampling Bottleneck is on its 3x3 convolution). Names follow torchvision's state_dict. */
#include <stdio.h>

#include "zoo/builder.h"

/* Weight scale of the last convolution of each residual branch.
 *
 * BatchNorm in inference mode with synthetic running statistics does not normalise, and
 * every block adds its branch to the identity path, so the activations' scale compounds per
 * block: with plain Kaiming weights ResNet-50's logits reach ~3e4 (RMS of the last block's
 * output ~600), and still ~300 with 1/3 of Kaiming's variance. With 1/8 of it (1/sqrt(8) on
 * the uniform bound) the RMS grows only from ~1.6 to ~10 over ResNet-50's 16 blocks and the
 * logits have an RMS of ~10 (ResNet-18: ~4), while the branch still carries a sizeable part of
 * each block's output, so a wrong BatchNorm fold stays visible. This is the idea of Fixup and
 * of torchvision's zero_init_residual, without zeroing the branch. Only the weights' scale
 * changes, not the architecture. */
#define RESIDUAL_SCALE 0.35355339f

/* conv -> bn (-> relu): torchvision's convN/bnN/relu sequence inside a block. */
static int conv_bn_scaled(mr_zb *b, int x, const char *prefix, const char *conv, const char *bn,
                          int cin, int cout, int k, int stride, int pad, int relu, float scale) {
    char cn[160], bnn[160], rn[160];
    snprintf(cn, sizeof cn, "%s%s", prefix, conv);
    snprintf(bnn, sizeof bnn, "%s%s", prefix, bn);
    snprintf(rn, sizeof rn, "%s%s_relu", prefix, conv);
    int y = mr_zb_conv_scaled(b, x, cn, cin, cout, k, stride, pad, 1, 0, scale);
    y = mr_zb_bn(b, y, bnn, cout);
    return relu ? mr_zb_relu(b, y, rn) : y;
}

static int conv_bn(mr_zb *b, int x, const char *prefix, const char *conv, const char *bn, int cin,
                   int cout, int k, int stride, int pad, int relu) {
    return conv_bn_scaled(b, x, prefix, conv, bn, cin, cout, k, stride, pad, relu, 1.0f);
}

/* The identity branch, or downsample.0 (1x1 conv, stride) + downsample.1 (BatchNorm). */
static int shortcut(mr_zb *b, int x, const char *prefix, int cin, int cout, int stride) {
    if (stride == 1 && cin == cout) return x;
    return conv_bn(b, x, prefix, "downsample.0", "downsample.1", cin, cout, 1, stride, 0, 0);
}

static int residual_out(mr_zb *b, int y, int sc, const char *prefix) {
    char an[160], rn[160];
    snprintf(an, sizeof an, "%sadd", prefix);
    snprintf(rn, sizeof rn, "%srelu", prefix);
    return mr_zb_relu(b, mr_zb_add(b, y, sc, an), rn);
}

/* BasicBlock: conv3x3(stride)-bn-relu-conv3x3-bn, + shortcut, relu. */
static int basic_block(mr_zb *b, int x, const char *prefix, int cin, int planes, int stride) {
    int y = conv_bn(b, x, prefix, "conv1", "bn1", cin, planes, 3, stride, 1, 1);
    y = conv_bn_scaled(b, y, prefix, "conv2", "bn2", planes, planes, 3, 1, 1, 0, RESIDUAL_SCALE);
    return residual_out(b, y, shortcut(b, x, prefix, cin, planes, stride), prefix);
}

/* Bottleneck (expansion 4): conv1x1-bn-relu-conv3x3(stride)-bn-relu-conv1x1-bn, + shortcut,
 * relu. */
static int bottleneck(mr_zb *b, int x, const char *prefix, int cin, int planes, int stride) {
    int y = conv_bn(b, x, prefix, "conv1", "bn1", cin, planes, 1, 1, 0, 1);
    y = conv_bn(b, y, prefix, "conv2", "bn2", planes, planes, 3, stride, 1, 1);
    y = conv_bn_scaled(b, y, prefix, "conv3", "bn3", planes, planes * 4, 1, 1, 0, 0,
                       RESIDUAL_SCALE);
    return residual_out(b, y, shortcut(b, x, prefix, cin, planes * 4, stride), prefix);
}

static mr_status resnet(mr_zb *b, const int blocks[4], int bottle) {
    int64_t in_dims[4] = {1, 3, 224, 224};
    int x = mr_zb_input(b, "input", 4, in_dims);
    x = mr_zb_conv(b, x, "conv1", 3, 64, 7, 2, 3, 1, 0);
    x = mr_zb_bn(b, x, "bn1", 64);
    x = mr_zb_relu(b, x, "relu");
    x = mr_zb_maxpool(b, x, "maxpool", 3, 2, 1, 0);
    int expansion = bottle ? 4 : 1, cin = 64;
    for (int l = 0; l < 4; l++) {
        int planes = 64 << l;
        for (int i = 0; i < blocks[l]; i++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "layer%d.%d.", l + 1, i);
            int stride = (i == 0 && l > 0) ? 2 : 1;
            x = bottle ? bottleneck(b, x, prefix, cin, planes, stride)
                       : basic_block(b, x, prefix, cin, planes, stride);
            cin = planes * expansion;
        }
    }
    /* AdaptiveAvgPool2d((1,1)) on the 7x7 map. */
    x = mr_zb_global_avgpool(b, x, "avgpool");
    x = mr_zb_flatten(b, x, "flatten", NULL);
    x = mr_zb_linear(b, x, "fc", cin, 1000, "logits");
    mr_zb_output(b, x);
    return mr_zb_status(b);
}

mr_status mr_zoo_build_resnet18(mr_zb *b) {
    static const int blocks[4] = {2, 2, 2, 2};
    return resnet(b, blocks, 0);
}

mr_status mr_zoo_build_resnet50(mr_zb *b) {
    static const int blocks[4] = {3, 4, 6, 3};
    return resnet(b, blocks, 1);
}

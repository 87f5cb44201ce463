/* Small graph-building helpers for the zoo: layers in the shape PyTorch's ONNX exporter gives
 * them (Conv with explicit attributes, BatchNormalization, Gemm with transB=1, ...), with
 * deterministic weights.
 *
 * Error handling is sticky so that architecture code reads like a PyTorch forward(): the
 * first failure is recorded in b->err and every later helper does nothing and returns -1.
 * The architecture function returns mr_zb_status(b) at the end.
 *
 * Weights: every parameter tensor gets its own PRNG stream, seeded from a hash of the model
 * name and the tensor name. So the weights do not depend on the order layers are built in,
 * and are the same on every machine (integer PRNG, float conversion of exact values only).
 *
 * Names follow torchvision's state_dict ("layer1.0.conv1.weight"), so a tensor in a report
 * can be matched to the PyTorch module it stands for. A layer's node and its output tensor
 * are both named after the module ("layer1.0.conv1").
 */
#ifndef MR_ZOO_BUILDER_H
#define MR_ZOO_BUILDER_H

#include <stdint.h>

#include "core/err.h"
#include "graph/ir.h"

typedef struct mr_zb {
    mr_graph *g;
    mr_err *err;
    mr_status st;  /* first failure, MR_OK so far */
    uint64_t seed; /* hash of the model name */
    int relu6_lo;  /* shared Clip bounds of ReLU6 (Constant node outputs), -1 until used */
    int relu6_hi;
} mr_zb;

void mr_zb_init(mr_zb *b, mr_graph *g, const char *model_name, mr_err *err);
static inline mr_status mr_zb_status(const mr_zb *b) {
    return b->st;
}

/* Deterministic PRNG (splitmix64): a stream for one tensor. */
typedef struct mr_zb_rng {
    uint64_t s;
} mr_zb_rng;
mr_zb_rng mr_zb_rng_for(const mr_zb *b, const char *tensor_name);
/* Uniform in [lo, hi). */
float mr_zb_uniform(mr_zb_rng *r, float lo, float hi);

/* ---- tensors ---- */

/* A float32 graph input of fixed shape. */
int mr_zb_input(mr_zb *b, const char *name, int ndim, const int64_t *dims);
/* Marks tensor t as a graph output. */
void mr_zb_output(mr_zb *b, int t);
/* A float32 parameter filled with U(lo, hi) from the tensor's own stream. */
int mr_zb_param(mr_zb *b, const char *name, int ndim, const int64_t *dims, float lo, float hi);
/* An int64 constant (Squeeze axes, Gather indices). */
int mr_zb_const_i64(mr_zb *b, const char *name, int ndim, const int64_t *dims, const int64_t *v);

/* ---- nodes ---- */

/* A node with one output tensor, named `name` (unless out_name is given). Returns the output
 * tensor; the node index is stored in *node_out if not NULL. */
int mr_zb_node(mr_zb *b, const char *op, const char *name, int n_in, const int *in,
               const char *out_name, int *node_out);

/* Attribute setters in the same sticky style (no-ops after a failure). */
void mr_zb_attr_int(mr_zb *b, int node, const char *attr, int64_t v);
void mr_zb_attr_ints(mr_zb *b, int node, const char *attr, int n, const int64_t *v);
void mr_zb_attr_float(mr_zb *b, int node, const char *attr, float v);

/* ---- layers (x: input tensor; returns the output tensor) ---- */

/* nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=bias): weight "<name>.weight"
 * [cout, cin/groups, k, k], Kaiming-uniform (the variance of kaiming_normal_, fan_in, ReLU
 * gain); bias "<name>.bias" U(+-1/sqrt(fan_in)) like PyTorch's default. */
int mr_zb_conv(mr_zb *b, int x, const char *name, int cin, int cout, int k, int stride, int pad,
               int groups, int bias);
/* The same with the weight bound multiplied by `scale` (see resnet.c for why). */
int mr_zb_conv_scaled(mr_zb *b, int x, const char *name, int cin, int cout, int k, int stride,
                      int pad, int groups, int bias, float scale);
/* nn.BatchNorm2d(c) in eval mode: gamma U(0.5,1.5), beta U(-0.1,0.1), running mean
 * U(-0.1,0.1), running var U(0.5,1.5), eps 1e-5. */
int mr_zb_bn(mr_zb *b, int x, const char *name, int c);
int mr_zb_relu(mr_zb *b, int x, const char *name);
/* nn.ReLU6 as the exporter writes it: Clip(x, min, max) with scalar bounds 0 and 6 from
 * Constant nodes. */
int mr_zb_relu6(mr_zb *b, int x, const char *name);
int mr_zb_maxpool(mr_zb *b, int x, const char *name, int k, int stride, int pad, int ceil_mode);
int mr_zb_global_avgpool(mr_zb *b, int x, const char *name);
/* Flatten(axis=1); the output tensor is named out_name if given. */
int mr_zb_flatten(mr_zb *b, int x, const char *name, const char *out_name);
/* nn.Linear(in, out) as Gemm(transB=1): weight [out, in] Xavier-uniform, bias
 * U(+-1/sqrt(in)). The output tensor is named out_name if given. */
int mr_zb_linear(mr_zb *b, int x, const char *name, int in, int out, const char *out_name);
int mr_zb_add(mr_zb *b, int x, int y, const char *name);
int mr_zb_concat(mr_zb *b, int n, const int *xs, int axis, const char *name);

/* ---- architectures (one per zoo entry; return mr_zb_status) ---- */

mr_status mr_zoo_build_resnet18(mr_zb *b);
mr_status mr_zoo_build_resnet50(mr_zb *b);
mr_status mr_zoo_build_vgg16(mr_zb *b);
mr_status mr_zoo_build_alexnet(mr_zb *b);
mr_status mr_zoo_build_squeezenet1_1(mr_zb *b);
mr_status mr_zoo_build_mobilenet_v2(mr_zb *b);
mr_status mr_zoo_build_cifarnet(mr_zb *b);
mr_status mr_zoo_build_lstm(mr_zb *b);
mr_status mr_zoo_build_gru(mr_zb *b);

#endif

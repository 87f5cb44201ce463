/* Recurrent models: torch.nn.LSTM(256, 512, num_layers=2, batch_first=True) (or nn.GRU) on a
 * [1, 50, 256] sequence, followed by nn.Linear(512, 10) on the last time step.
 *
 * Built the way torch.onnx exports it (opset 13): the batch-first input is transposed to
 * [seq, batch, input]; each layer is one ONNX LSTM/GRU node (forward, layout 0) whose Y
 * [seq, 1, batch, hidden] has its num_directions axis squeezed away before the next layer;
 * the last time step is a Gather on axis 0 with a scalar index, giving [batch, hidden].
 *
 * Weights: W [1, gates*H, I], R [1, gates*H, H] and B [1, 2*gates*H] = (Wb, Rb), i.e.
 * PyTorch's b_ih and b_hh kept separate; all U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch. GRU
 * uses linear_before_reset=1, which is PyTorch's formulation. */
#include <math.h>
#include <stdio.h>

#include "zoo/builder.h"

enum { SEQ = 50, INPUT = 256, HIDDEN = 512, LAYERS = 2, CLASSES = 10 };

static mr_status rnn(mr_zb *b, const char *op, const char *prefix, int gates) {
    int64_t in_dims[3] = {1, SEQ, INPUT};
    int x = mr_zb_input(b, "input", 3, in_dims);
    int node = -1;
    int64_t perm[3] = {1, 0, 2};
    x = mr_zb_node(b, "Transpose", "transpose", 1, &x, NULL, &node);
    mr_zb_attr_ints(b, node, "perm", 3, perm);
    float k = 1.0f / sqrtf((float)HIDDEN);
    for (int l = 0; l < LAYERS; l++) {
        int in = l == 0 ? INPUT : HIDDEN;
        char wn[64], rn[64], bn[64], name[64], sq[64], axn[64];
        snprintf(wn, sizeof wn, "%s.weight_ih_l%d", prefix, l);
        snprintf(rn, sizeof rn, "%s.weight_hh_l%d", prefix, l);
        snprintf(bn, sizeof bn, "%s.bias_l%d", prefix, l);
        snprintf(name, sizeof name, "%s.l%d", prefix, l);
        snprintf(sq, sizeof sq, "%s.l%d.squeeze", prefix, l);
        snprintf(axn, sizeof axn, "%s.l%d.squeeze.axes", prefix, l);
        int64_t wd[3] = {1, gates * HIDDEN, in}, rd[3] = {1, gates * HIDDEN, HIDDEN},
                bd[2] = {1, 2 * gates * HIDDEN};
        int ins[4] = {x, mr_zb_param(b, wn, 3, wd, -k, k), -1, -1};
        ins[2] = mr_zb_param(b, rn, 3, rd, -k, k);
        ins[3] = mr_zb_param(b, bn, 2, bd, -k, k);
        x = mr_zb_node(b, op, name, 4, ins, NULL, &node);
        mr_zb_attr_int(b, node, "hidden_size", HIDDEN);
        if (gates == 3) mr_zb_attr_int(b, node, "linear_before_reset", 1);
        /* Y [seq, 1, batch, H] -> [seq, batch, H]; opset 13 takes the axes as an input. */
        int64_t one = 1, ad[1] = {1};
        int sq_in[2] = {x, mr_zb_const_i64(b, axn, 1, ad, &one)};
        x = mr_zb_node(b, "Squeeze", sq, 2, sq_in, NULL, NULL);
    }
    /* Last time step: Gather(axis 0) with a scalar index removes the seq axis. */
    int64_t last = SEQ - 1;
    int g_in[2] = {x, mr_zb_const_i64(b, "last_step.index", 0, NULL, &last)};
    x = mr_zb_node(b, "Gather", "last_step", 2, g_in, NULL, &node);
    mr_zb_attr_int(b, node, "axis", 0);
    x = mr_zb_linear(b, x, "fc", HIDDEN, CLASSES, "logits");
    mr_zb_output(b, x);
    return mr_zb_status(b);
}

mr_status mr_zoo_build_lstm(mr_zb *b) {
    return rnn(b, "LSTM", "lstm", 4);
}
mr_status mr_zoo_build_gru(mr_zb *b) {
    return rnn(b, "GRU", "gru", 3);
}

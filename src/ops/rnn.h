/* Internal interface of LSTM/GRU (src/ops/rnn.c) for other backends.
 *
 * The CPU op's init parses and checks the attributes and its infer checks the inputs (shapes,
 * float32, sizes within range); both store what they derive in n->params, which the CUDA
 * planner (src/cuda/rnn.cu) reads instead of parsing and checking again. */
#ifndef MR_OPS_RNN_H
#define MR_OPS_RNN_H

#include <stddef.h>
#include <stdint.h>

typedef struct mr_rnn_params {
    int gru;        /* 0: LSTM, 1: GRU */
    int G;          /* gates: 4 (LSTM i,o,f,c) or 3 (GRU z,r,h) */
    int64_t hidden; /* hidden_size attribute, 0 when absent */
    int dirs;       /* 1 or 2 */
    int first_rev;  /* direction == "reverse": direction 0 walks time backwards */
    int layout;     /* 0: [seq, batch, ...], 1: [batch, seq, ...] */
    int lbr;        /* GRU linear_before_reset */
    /* set by the CPU prepare: sizes (each in [1, INT32_MAX], H <= INT32_MAX / 8, checked by
     * infer) and the CPU grid */
    int64_t S, B, NI, H;
    int64_t ht, n_ht;       /* hidden units per recurrent block, tiles per direction */
    int64_t prt, pct;       /* projection tile: rows (of S*B), columns (of G*H) */
    int64_t n_pr, n_pc;     /* projection tiles per direction */
    int pps;                /* phases per time step (1, or 2 for GRU lbr=0) */
    size_t off_h[2], off_c; /* workspace offsets (floats) of the h buffers, c / r(.)h buffer */
} mr_rnn_params;

/* Two stacked layers in one node (graph/passes.c, mr_pass_stack_rnn): a 2-layer LSTM or GRU
 * as PyTorch exports it (layer, Squeeze of the num_directions axis, layer) becomes one node,
 * so that a backend may overlap the layers' time steps (cuda/rnn.cu runs layer 1's step t
 * beside layer 0's step t + 1). The node keeps layer 1's outputs; its inputs are layer 0's in
 * slots 0..7 and layer 1's in slots 8..15, where slot 8 (layer 1's X) is -1: it is layer 0's
 * Y, which only the node's workspace holds. The CPU runs layer 0's phases, then layer 1's. */
#define MR_RNN_STACK_IN 8 /* input slots per layer */
/* The largest hidden size stacked: what the CUDA stacked step keeps in registers. */
#define MR_RNN_STACK_MAX_H 512

typedef struct mr_rnn_stack {
    mr_rnn_params l[2];
    /* set by the CPU prepare */
    int phases[2];     /* each layer's phases; layer 0's run first */
    int64_t blocks[2]; /* each layer's logical blocks per phase */
    size_t off_ws1;    /* floats: layer 1's workspace in the node's (layer 0's is at 0) */
    size_t off_y0;     /* floats: layer 0's Y, [S][1][B][H] (= layer 1's X) */
} mr_rnn_stack;

/* The stacked ops (not in the ONNX registry: only the pass makes them). */
extern const struct mr_op_def mr_op_lstm_stack, mr_op_gru_stack;

#endif

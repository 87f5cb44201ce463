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

#endif

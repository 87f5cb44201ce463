/* The built-in model zoo: name table, descriptions and mr_zoo_build. */
#include "zoo/zoo.h"

#include <stdio.h>
#include <string.h>

#include "zoo/builder.h"

typedef struct zoo_entry {
    const char *name;
    const char *description;
    mr_status (*build)(mr_zb *b);
} zoo_entry;

static const zoo_entry zoo[] = {
    {"resnet18", "ResNet-18 (torchvision): [1,3,224,224] -> 1000 logits, 11.7M params",
     mr_zoo_build_resnet18},
    {"resnet50", "ResNet-50 v1.5 (torchvision): [1,3,224,224] -> 1000 logits, 25.6M params",
     mr_zoo_build_resnet50},
    {"vgg16", "VGG-16 (torchvision, no BatchNorm): [1,3,224,224] -> 1000 logits, 138.4M params",
     mr_zoo_build_vgg16},
    {"alexnet", "AlexNet (torchvision): [1,3,224,224] -> 1000 logits, 61.1M params",
     mr_zoo_build_alexnet},
    {"squeezenet1_1", "SqueezeNet 1.1 (torchvision): [1,3,224,224] -> 1000 logits, 1.2M params",
     mr_zoo_build_squeezenet1_1},
    {"mobilenet_v2", "MobileNetV2 (torchvision): [1,3,224,224] -> 1000 logits, 3.5M params",
     mr_zoo_build_mobilenet_v2},
    {"cifarnet",
     "CifarNet (PyTorch CIFAR-10 tutorial CNN): [1,3,32,32] -> conv5x5(6)-relu-maxpool2 -> "
     "conv5x5(16)-relu-maxpool2 -> fc 400-120-84-10, 62,006 params",
     mr_zoo_build_cifarnet},
    {"lstm",
     "LSTM: [1,50,256] batch-first -> 2-layer LSTM, hidden 512 -> last step -> fc 512-10, "
     "3.68M params",
     mr_zoo_build_lstm},
    {"gru",
     "GRU: [1,50,256] batch-first -> 2-layer GRU, hidden 512 -> last step -> fc 512-10, "
     "2.76M params",
     mr_zoo_build_gru},
};

enum { N_ZOO = (int)(sizeof zoo / sizeof zoo[0]) };

static const zoo_entry *find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < N_ZOO; i++)
        if (strcmp(zoo[i].name, name) == 0) return &zoo[i];
    return NULL;
}

const char *mr_zoo_name(int index) {
    return index >= 0 && index < N_ZOO ? zoo[index].name : NULL;
}

const char *mr_zoo_description(const char *name) {
    const zoo_entry *e = find(name);
    return e ? e->description : NULL;
}

mr_status mr_zoo_build(const char *name, mr_graph **out, mr_err *err) {
    mr_err local;
    if (!err) err = &local;
    mr_err_clear(err);
    if (out) *out = NULL;
    if (!out) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_zoo_build: out is NULL");
    const zoo_entry *e = find(name);
    if (!e) {
        char list[256];
        size_t pos = 0;
        for (int i = 0; i < N_ZOO && pos < sizeof list; i++)
            pos +=
                (size_t)snprintf(list + pos, sizeof list - pos, "%s%s", i ? ", " : "", zoo[i].name);
        return mr_errf(err, MR_ERR_NOT_FOUND, "unknown zoo model '%s' (valid names: %s)",
                       name ? name : "(null)", list);
    }
    mr_graph *g = mr_graph_create(err);
    if (!g) return err->status;
    g->opset = 13;
    mr_zb b;
    mr_zb_init(&b, g, e->name, err);
    mr_status st = e->build(&b);
    if (st != MR_OK) {
        mr_err_prefix(err, "while building zoo model '%s': ", e->name);
        mr_graph_destroy(g);
        return st;
    }
    *out = g;
    return MR_OK;
}

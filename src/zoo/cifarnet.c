/* CifarNet: the CNN of PyTorch's "Training a classifier" tutorial (CIFAR-10):
 *
 *   input [1,3,32,32]
 *   conv1 Conv2d(3, 6, 5)    -> ReLU -> MaxPool2d(2, 2)     [1,6,14,14]
 *   conv2 Conv2d(6, 16, 5)   -> ReLU -> MaxPool2d(2, 2)     [1,16,5,5]
 *   flatten                                                  [1,400]
 *   fc1 Linear(400, 120) -> ReLU
 *   fc2 Linear(120, 84)  -> ReLU
 *   fc3 Linear(84, 10)                                       logits [1,10]
 *
 * 62,006 parameters. */
#include "zoo/builder.h"

mr_status mr_zoo_build_cifarnet(mr_zb *b) {
    int64_t in_dims[4] = {1, 3, 32, 32};
    int x = mr_zb_input(b, "input", 4, in_dims);
    x = mr_zb_relu(b, mr_zb_conv(b, x, "conv1", 3, 6, 5, 1, 0, 1, 1), "relu1");
    x = mr_zb_maxpool(b, x, "pool1", 2, 2, 0, 0);
    x = mr_zb_relu(b, mr_zb_conv(b, x, "conv2", 6, 16, 5, 1, 0, 1, 1), "relu2");
    x = mr_zb_maxpool(b, x, "pool2", 2, 2, 0, 0);
    x = mr_zb_flatten(b, x, "flatten", NULL);
    x = mr_zb_relu(b, mr_zb_linear(b, x, "fc1", 16 * 5 * 5, 120, NULL), "relu3");
    x = mr_zb_relu(b, mr_zb_linear(b, x, "fc2", 120, 84, NULL), "relu4");
    x = mr_zb_linear(b, x, "fc3", 84, 10, "logits");
    mr_zb_output(b, x);
    return mr_zb_status(b);
}

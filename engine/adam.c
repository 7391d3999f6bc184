#include "adam.h"

#include <math.h>

cls__adam_hparams cls__adam_defaults(void)
{
    return (cls__adam_hparams){.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-15f};
}

void cls__adam_bias(const cls__adam_hparams *h, uint32_t t, float *bc1, float *bc2)
{
    *bc1 = (float)(1.0 - pow((double)h->beta1, (double)t));
    *bc2 = (float)(1.0 - pow((double)h->beta2, (double)t));
}

/* The headline example of the C library, until the Lua front end lands:
 * a tiny vision-transformer style forward pass on random "images", the
 * loss, NumPy-style printing, a clear error from bad input, and a
 * safetensors checkpoint round trip.
 *
 *   examples/demo            (built by scripts/setup; `make check` runs it) */
#include <stdio.h>
#include <stdlib.h>

#include "tycho.h"

/* Exits with the library's message when a call failed. */
static ty_tensor *ok(ty_tensor *t) {
    if (!t) {
        fprintf(stderr, "demo: %s\n", ty_last_error());
        exit(1);
    }
    return t;
}

static void show(const char *title, const ty_tensor *t) {
    printf("%s\n", title);
    ty_print(stdout, t);
    printf("\n");
}

int main(void) {
    ty_manual_seed(42);
    const int64_t batch = 8, patch = 4, dim = 32, heads = 4, classes = 10;

    /* A batch of 8 random 1x28x28 images cut into 4x4 patches with views:
     * unfold twice, then flatten each patch (no copies until reshape). */
    ty_tensor *images = ok(ty_rand(4, (int64_t[]){batch, 1, 28, 28}, TY_F32, NULL));
    ty_tensor *rows = ok(ty_unfold(images, 2, patch, patch));  /* (8,1,7,28,4) */
    ty_tensor *tiles = ok(ty_unfold(rows, 3, patch, patch));   /* (8,1,7,7,4,4) */
    ty_tensor *patches = ok(ty_reshape(tiles, 3, (int64_t[]){batch, 49, patch * patch}));

    /* Patch embedding, layer norm and one multi-head self-attention. */
    ty_tensor *w_embed = ok(ty_randn(2, (int64_t[]){dim, patch * patch}, TY_F32, NULL));
    ty_tensor *tokens = ok(ty_linear(patches, w_embed, NULL));               /* (8,49,32) */
    ty_tensor *normed = ok(ty_layer_norm(tokens, 1, NULL, NULL, 1e-6, NULL, NULL));
    ty_tensor *qkv = ok(ty_reshape(normed, 4, (int64_t[]){batch, 49, heads, dim / heads}));
    ty_tensor *q = ok(ty_transpose(qkv, 1, 2));                               /* (8,4,49,8) */
    ty_tensor *weights = NULL;
    ty_tensor *attended = ok(ty_attention(q, q, q, NULL, NULL, &weights));
    ty_tensor *act = ok(ty_gelu(attended));

    /* Mean-pool the tokens, classify, and score against random labels. */
    ty_tensor *pooled = ok(ty_mean(act, 2, (int[]){1, 2}, false));           /* (8,8) */
    ty_tensor *w_head = ok(ty_randn(2, (int64_t[]){classes, dim / heads}, TY_F32, NULL));
    ty_tensor *logits = ok(ty_linear(pooled, w_head, NULL));                 /* (8,10) */
    ty_tensor *labels = ok(ty_randint(0, classes, 1, &batch, TY_I64, NULL));
    ty_tensor *loss = ok(ty_cross_entropy(logits, labels, NULL, NULL));
    ty_tensor *probs = ok(ty_softmax(logits, -1));

    show("logits (8x10):", logits);
    show("class probabilities (softmax of the logits):", probs);
    double loss_value;
    ty_item(loss, &loss_value);
    printf("cross-entropy loss against random labels: %.4f (chance level is ln 10 = 2.3026)\n\n",
           loss_value);

    /* Bad input is an error with the values, not a crash. */
    if (!ty_matmul(logits, logits)) printf("expected error: %s\n\n", ty_last_error());

    /* Checkpoint the two weight matrices and read them back. */
    ty_tensor_dict *sd = ty_dict_new();
    if (!sd || ty_dict_set(sd, "embed.weight", w_embed) < 0 || ty_dict_set(sd, "head.weight", w_head) < 0 ||
        ty_safetensors_save("demo.safetensors", sd) < 0) {
        fprintf(stderr, "demo: %s\n", ty_last_error());
        return 1;
    }
    ty_tensor_dict *back = ty_safetensors_load("demo.safetensors");
    if (!back) {
        fprintf(stderr, "demo: %s\n", ty_last_error());
        return 1;
    }
    ty_tensor *reloaded = ok(ty_dict_get(back, "head.weight")); /* a new reference */
    ty_tensor *same = ok(ty_eq(reloaded, w_head));
    int all_equal = 0;
    ty_tensor *every = ok(ty_all(same, 0, NULL, false));
    double v;
    ty_item(every, &v);
    all_equal = v != 0;
    printf("safetensors round trip of %d tensors: %s\n", back->n, all_equal ? "identical" : "DIFFERENT");
    remove("demo.safetensors");

    ty_tensor *all[] = {images, rows, tiles, patches, w_embed, tokens, normed, qkv, q, weights,
                        attended, act, pooled, w_head, logits, labels, loss, probs, reloaded, same, every};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ty_tensor_release(all[i]);
    ty_dict_free(sd);
    ty_dict_free(back);
    if (ty_live_tensors() != 0) {
        fprintf(stderr, "demo: %lld tensors leaked\n", (long long)ty_live_tensors());
        return 1;
    }
    printf("demo: ok\n");
    return all_equal ? 0 : 1;
}

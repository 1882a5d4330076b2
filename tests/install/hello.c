/* Built by `make installcheck` against the installed library through
 * `pkg-config --cflags --libs tycho`, to prove the install is usable. */
#include <stdio.h>
#include <tycho.h>

int main(void) {
    float a[4] = {1, 2, 3, 4};
    ty_tensor *t = ty_from_buffer(a, 2, (int64_t[]){2, 2}, TY_F32);
    ty_tensor *tt = t ? ty_transpose(t, 0, 1) : NULL;
    ty_tensor *c = tt ? ty_contiguous(tt) : NULL;
    if (!c) {
        fprintf(stderr, "hello: %s\n", ty_last_error());
        return 1;
    }
    /* transposed [[1,2],[3,4]] is [[1,3],[2,4]]: element 1 is 3 */
    int ok = ty_get_flat(c, 1) == 3.0;
    printf("hello from tycho %s: %s\n", TY_VERSION, ok ? "ok" : "wrong");
    ty_tensor_release(c);
    ty_tensor_release(tt);
    ty_tensor_release(t);
    return ok ? 0 : 1;
}

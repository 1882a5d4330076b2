/* Colours: viridis for heatmaps and attention maps, and the palette of line
 * series. */
#include <math.h>

#include "view.h"

/* Viridis (Smith and van der Walt, matplotlib, CC0): every 8th of its 256
 * entries and the last. Linear interpolation between them stays within
 * half a step of 8-bit colour of the full table, and the ends are exact. */
static const float viridis[33][3] = {
    {0.267004f, 0.004874f, 0.329415f}, {0.277018f, 0.050344f, 0.375715f},
    {0.282327f, 0.094955f, 0.417331f}, {0.282884f, 0.135920f, 0.453427f},
    {0.278826f, 0.175490f, 0.483397f}, {0.270595f, 0.214069f, 0.507052f},
    {0.258965f, 0.251537f, 0.524736f}, {0.244972f, 0.287675f, 0.537260f},
    {0.229739f, 0.322361f, 0.545706f}, {0.214298f, 0.355619f, 0.551184f},
    {0.199430f, 0.387607f, 0.554642f}, {0.185556f, 0.418570f, 0.556753f},
    {0.172719f, 0.448791f, 0.557885f}, {0.160665f, 0.478540f, 0.558115f},
    {0.149039f, 0.508051f, 0.557250f}, {0.137770f, 0.537492f, 0.554906f},
    {0.127568f, 0.566949f, 0.550556f}, {0.120565f, 0.596422f, 0.543611f},
    {0.120638f, 0.625828f, 0.533488f}, {0.132268f, 0.655014f, 0.519661f},
    {0.157851f, 0.683765f, 0.501686f}, {0.196571f, 0.711827f, 0.479221f},
    {0.246070f, 0.738910f, 0.452024f}, {0.304148f, 0.764704f, 0.419943f},
    {0.369214f, 0.788888f, 0.382914f}, {0.440137f, 0.811138f, 0.340967f},
    {0.515992f, 0.831158f, 0.294279f}, {0.595839f, 0.848717f, 0.243329f},
    {0.678489f, 0.863742f, 0.189503f}, {0.762373f, 0.876424f, 0.137064f},
    {0.845561f, 0.887322f, 0.099702f}, {0.926106f, 0.897330f, 0.104071f},
    {0.993248f, 0.906157f, 0.143936f},
};

void viz_viridis(double t, double rgb[3]) {
    if (!(t > 0)) t = 0; /* NaN lands here too; callers draw NaN themselves */
    if (t > 1) t = 1;
    /* Position in the 256-entry table; entry k of ours is its 8k, except
     * the last, which is its 255. */
    double p = t * 255.0;
    int k = (int)(p / 8.0);
    if (k > 31) k = 31;
    double lo = 8.0 * k, hi = k == 31 ? 255.0 : 8.0 * (k + 1);
    double f = (p - lo) / (hi - lo);
    if (f > 1) f = 1;
    for (int c = 0; c < 3; c++) rgb[c] = viridis[k][c] + f * (viridis[k + 1][c] - viridis[k][c]);
}

/* tab10: distinct, colour-blind friendlier than pure hues, and familiar
 * from matplotlib. */
static const unsigned char palette[10][3] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
    {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
    {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
};

void viz_series_color(int i, double rgb[3]) {
    const unsigned char *c = palette[(i % 10 + 10) % 10];
    for (int k = 0; k < 3; k++) rgb[k] = c[k] / 255.0;
}

"""cPitchJitter, compiled with numba (``cache=True``): period-by-period jitter, shimmer and HNR
from the waveform, with the read position and the last periods carried between frames
(:func:`voice_quality`; the F0 track comes from :mod:`emolab.features.pitch_kernels`).

Only :mod:`emolab.features.pitch` imports this module, and only when voice-quality columns
are requested.
"""
from __future__ import annotations

import numpy as np
from numba import njit

@njit(cache=True, fastmath=True, error_model="numpy")
def _correlations_range(x, start, lo, a, b, cc):
    """Pearson r of x[start:start+L] with x[start+L:start+2L] for the lags L = a..b, into ``cc[L - lo]``."""
    seg = x[start:start + 2 * b]
    p1 = np.zeros(2 * b + 1)
    p2 = np.zeros(2 * b + 1)
    for i in range(2 * b):
        v = float(seg[i])
        p1[i + 1] = p1[i] + v
        p2[i + 1] = p2[i] + v * v
    for L in range(a, b + 1):
        sxy32 = np.float32(0.0)          # float32 lanes: twice as many per instruction
        for i in range(L):
            sxy32 += seg[i] * seg[i + L]
        sxy = float(sxy32)
        sx, sxx = p1[L], p2[L]
        sy, syy = p1[2 * L] - sx, p2[2 * L] - sxx
        cov = sxy - sx * sy / L
        vx = sxx - sx * sx / L
        vy = syy - sy * sy / L
        den = np.sqrt(max(vx, 0.0)) * np.sqrt(max(vy, 0.0))
        cc[L - lo] = cov / den if den > 0 else np.nan


@njit(cache=True, fastmath=True, error_model="numpy")
def _correlations(x, start, lo, hi, cc):
    """Pearson r of x[start:start+L] with x[start+L:start+2L], L = lo..hi, into ``cc[L - lo]``
    (approximate arithmetic: only used to find the best period length)."""
    _correlations_range(x, start, lo, lo, hi, cc)


@njit(cache=True, error_model="numpy")
def _best_peak(cc, first, last):
    """Index of the highest local maximum of ``cc`` among ``first..last`` (-1: none)."""
    best = -1
    for i in range(first, last + 1):
        if cc[i - 1] < cc[i] and cc[i] > cc[i + 1]:
            if best == -1 or cc[i] > cc[best]:
                best = i
    return best


@njit(cache=True, error_model="numpy")
def _period_search(wave, coarse_wave, coarse, pos, lo, hi, cc, ccc, n_peaks):
    """cPitchJitter's best period index (lag ``lo + index``; -1: no correlation peak).

    ``coarse`` 1: every lag ``lo..hi`` at the full rate (openSMILE). Otherwise the
    ``n_peaks`` highest correlation peaks are first found on ``coarse_wave`` (``wave``
    averaged over ``coarse`` samples), then refined at the full rate over the lags within
    ``coarse + 1`` of each; the best refined peak wins (the full search when none is found):
    the same result as openSMILE's whenever its peak is near one of the coarse ones.
    """
    if coarse > 1:
        lo_c = lo // coarse
        hi_c = hi // coarse
        if hi_c - lo_c >= 3:
            _correlations(coarse_wave, pos // coarse, lo_c, hi_c, ccc)
            best = -1
            for _ in range(n_peaks):
                bc = _best_peak(ccc, 1, hi_c - lo_c - 2)
                if bc == -1:
                    break
                ccc[bc] = -np.inf                 # the next highest peak on the next pass
                centre = (lo_c + bc) * coarse
                a = max(lo + 1, centre - coarse - 1)
                b = min(hi - 2, centre + coarse + 1)
                if a > b:
                    continue
                _correlations_range(wave, pos, lo, a - 1, b + 1, cc)
                i = _best_peak(cc, a - lo, b - lo)
                if i != -1 and (best == -1 or cc[i] > cc[best]):
                    best = i
            if best != -1:
                return best
    _correlations(wave, pos, lo, hi, cc)
    return _best_peak(cc, 1, hi - lo - 2)


@njit(cache=True, error_model="numpy")
def _pearson(x, a, L):
    """cPitchJitter's crossCorr of x[a:a+L] and x[a+L:a+2L], same summation order."""
    mx = 0.0
    my = 0.0
    for i in range(L):
        mx += x[a + i]
        my += x[a + L + i]
    mx /= L
    my /= L
    cc = 0.0
    nx = 0.0
    ny = 0.0
    for i in range(L):
        dx = x[a + i] - mx
        dy = x[a + L + i] - my
        cc += dx * dy
        nx += dx * dx
        ny += dy * dy
    return cc / (np.sqrt(nx) * np.sqrt(ny))


@njit(cache=True, error_model="numpy")
def _quad3(x1, y1, x2, y2, x3, y3):
    """smileMath_quadFrom3pts: vertex (x, y) of the parabola through 3 points."""
    den = x1 * x1 * x2 + x2 * x2 * x3 + x3 * x3 * x1 - x3 * x3 * x2 - x2 * x2 * x1 - x1 * x1 * x3
    if den != 0.0:
        a = (y1 * x2 + y2 * x3 + y3 * x1 - y3 * x2 - y2 * x1 - y1 * x3) / den
        b = (x1 * x1 * y2 + x2 * x2 * y3 + x3 * x3 * y1 - x3 * x3 * y2 - x2 * x2 * y1 - x1 * x1 * y3) / den
        c = (x1 * x1 * x2 * y3 + x2 * x2 * x3 * y1 + x3 * x3 * x1 * y2 - x3 * x3 * x2 * y1
             - x2 * x2 * x1 * y3 - x1 * x1 * x3 * y2) / den
        if a != 0.0:
            x = -b / (2.0 * a)
            return x, c - a * x * x
    if y1 > y2 and y1 > y3:
        return x1, y1
    if y2 > y1 and y2 > y3:
        return x2, y2
    if y3 > y1 and y3 > y2:
        return x3, y3
    return x1, y1


@njit(cache=True, error_model="numpy")
def _amplitude(x, a, n):
    hi = x[a + 1]
    lo = x[a + 1]
    for i in range(a + 1, a + n - 1):
        if x[i] > hi:
            hi = x[i]
        if x[i] < lo:
            lo = x[i]
    return hi - lo


@njit(cache=True, error_model="numpy", nogil=True)
def voice_quality(wave, f0, search, sr, step, frame, coarse_wave, coarse, n_peaks, begin, end, out):
    """cPitchJitter: jitterLocal, jitterDDP, shimmerLocal and logHNR per 10 ms frame.

    Parameters
    ----------
    wave : np.ndarray, shape (n_samples,), float32
        Samples as openSMILE reads them (16-bit value / 32767); sums in float64.
    f0 : np.ndarray, shape (n,), float32
        F0 per frame after the energy gate (0 = unvoiced).
    search : float
        Relative period search range (0.25).
    sr : float
        Sample rate (openSMILE: 44100).
    step : float
        Frame hop in samples (openSMILE: 441; may be fractional).
    frame : int
        Frame length in samples (openSMILE: 2646).
    coarse_wave : np.ndarray, float32
        ``wave`` averaged over ``coarse`` consecutive samples (unused when ``coarse`` is 1).
    coarse : int
        1: openSMILE's search over every period length; more: the coarse-to-fine search of
        :func:`_period_search`, refining its ``n_peaks`` highest peaks.

    begin, end : int
        The frames to compute, ``begin`` the first frame or one after an unvoiced frame (there
        openSMILE's state is known: nothing carried over, the read position on the frame grid),
        so that stretches between unvoiced frames can run in threads (the GIL is released).
    out : np.ndarray, shape (n, 4)
        Written in rows ``begin:end``: jitterLocal, jitterDDP, shimmerLocal, logHNR.
    """
    last_idx = int(np.floor(begin * step + 0.5))
    last_mis = 0
    last_t0 = 0.0
    last_diff = 0.0
    last_jl = 0.0
    last_jd = 0.0
    last_sh = 0.0
    total = wave.shape[0]
    cc = np.zeros(2 * frame)
    ccc = np.zeros(2 * frame)
    starts = np.zeros(frame + 4, np.int64)
    for t in range(begin, end):
        out[t, 0] = 0.0
        out[t, 1] = 0.0
        out[t, 2] = 0.0
        f = float(f0[t])
        # this frame's hop in samples (a non-integer hop is rounded frame by frame, no drift)
        read0 = int(np.floor((t + 1) * step + 0.5)) - int(np.floor(t * step + 0.5)) + last_mis
        if f <= 0.0:
            last_idx += read0
            last_mis = 0
            last_t0 = 0.0
            last_diff = 0.0
            last_jl = 0.0
            last_jd = 0.0
            last_sh = 0.0
            out[t, 3] = -100.0
            continue
        tf = (1.0 / f) * sr
        t0f = int(np.floor(tf + 0.5))
        lo = int(np.floor((1.0 - search) * tf))
        hi = int(np.ceil((1.0 + search) * tf))
        to_read = max(read0, 2 * hi + 2)
        to_read = min(to_read, last_mis + frame)
        n_t = min(to_read, total - last_idx)
        base = last_idx
        start = 0
        last_period = 0
        pp = 0
        n_starts = 0
        avg_wf = np.zeros(t0f + 1)
        n_per = 0
        n_loc = 0
        n_ddp = 0
        avg_period = 0.0
        jl = 0.0
        jd = 0.0
        amp = 0.0
        amp_diff = 0.0
        min_cc = np.float32(-2.0)
        while start < n_t - 2 * hi - 1:
            if coarse > 1:
                best = _period_search(wave, coarse_wave, coarse, base + start, lo, hi, cc, ccc, n_peaks)
            else:    # openSMILE's search (kept inline: the same machine code as the exact port)
                _correlations(wave, base + start, lo, hi, cc)
                best = -1
                for i in range(1, hi - lo - 1):
                    if cc[i - 1] < cc[i] and cc[i] > cc[i + 1]:
                        if best == -1 or cc[i] > cc[best]:
                            best = i
            if best == -1:
                pp = t0f
                start += t0f
            else:
                pp = lo + best
                os_ = start
                start += pp
                a0 = _amplitude(wave, base + os_, pp)
                a1 = _amplitude(wave, base + start, pp)
                starts[n_starts] = os_
                n_starts += 1
                for i in range(t0f):
                    avg_wf[i] += wave[base + os_ + i]
                y1 = _pearson(wave, base + os_, lo + best - 1)
                y2 = _pearson(wave, base + os_, lo + best)
                y3 = _pearson(wave, base + os_, lo + best + 1)
                x, cc_i = _quad3(best - 1.0, y1, float(best), y2, best + 1.0, y3)
                period = float(np.float32(abs(lo + x) * (1.0 / sr)))
                if min_cc == np.float32(-2.0) or min_cc > np.float32(cc_i):
                    min_cc = np.float32(cc_i)
                if cc_i > min_cc:      # openSMILE's 'useBrokenJitterThresh'
                    avg_period += period
                    n_per += 1
                    if last_t0 > 0.0:
                        diff = abs(last_t0 - period)
                        jl += diff
                        n_loc += 1
                        if last_diff > 0.0:
                            jd += abs(last_diff - diff)
                            n_ddp += 1
                        last_diff = diff
                    last_t0 = period
                    amp += (a0 + a1) / 2.0
                    amp_diff += abs(a0 - a1)
            if start < read0 - 1:
                last_period = start
        starts[n_starts] = start
        n_starts += 1
        eh = 0.0
        i = 0
        while i < t0f and start + i < n_t:
            avg_wf[i] += wave[base + start + i]
            avg_wf[i] /= n_starts
            if 2 < i < t0f - 2:
                eh += avg_wf[i] * avg_wf[i]
            i += 1
        if t0f - 4 > 0:
            eh /= t0f - 4
        eh = np.sqrt(eh)
        starts[n_starts] = start + pp if pp > 0 else 0
        en = 0.0
        n_en = 0
        for p in range(n_starts):
            q = 2
            for j in range(starts[p] + 2, min(starts[p + 1], starts[p] + t0f) - 2):
                d = wave[base + j] - avg_wf[q]
                q += 1
                en += d * d
                n_en += 1
        if n_en > 0:
            en /= n_en
        en = np.sqrt(en)
        log_hnr = 0.0
        if en > 0.0:
            log_hnr = 20.0 * np.log10(eh / en) if eh > 0.0 else -100.0
        last_mis = read0 - last_period
        last_idx += last_period
        if n_per > 0 and n_loc > 0:
            last_jl = jl / n_loc / (avg_period / n_per)
        if n_per > 0 and n_ddp > 0:
            last_jd = jd / n_ddp / (avg_period / n_per)
        if n_per > 0:
            last_sh = amp_diff / amp if amp > 0.0 else 0.0
        last_jl = min(last_jl, 1.0)
        last_jd = min(last_jd, 1.0)
        last_sh = min(last_sh, 1.0)
        out[t, 0] = last_jl if (n_per == 0 or n_loc > 0) else 0.0
        out[t, 1] = last_jd if (n_per == 0 or n_ddp > 0) else 0.0
        out[t, 2] = last_sh
        out[t, 3] = max(log_hnr, -100.0)

"""The sequential parts of openSMILE's pitch chain, compiled with numba (``cache=True``).

* :func:`viterbi_states` — cPitchSmootherViterbi: a 30-frame incremental Viterbi over the F0
  candidates plus an unvoiced state, with openSMILE's costs, including its running "last
  change" term (updated in the order openSMILE evaluates transitions) and its decisions
  (a frame is fixed once all survivor paths agree on it, forced from the best path when it
  is 30 frames old, the rest from the best final path);
* :func:`voice_quality` — cPitchJitter: period-by-period jitter, shimmer and HNR from the
  waveform, with the read position and the last periods carried between frames.

Only :mod:`emolab.features.pitch` imports this module, and only when voice-quality or pitch
columns are requested (numba costs about 0.3 s to import).
"""
from __future__ import annotations

import numpy as np
from numba import njit

SR = 44100
STEP = 441
FRAME = 2646


# ------------------------------------------------------------------------------ Viterbi

@njit(cache=True, error_model="numpy")
def _fweight(f):
    if 0.0 < f < 100.0:
        return 1.0 - f / 100.0
    if 100.0 <= f < 350.0:
        return 0.0
    if 350.0 <= f < 600.0:
        return (f - 350.0) / 250.0
    if f >= 600.0:
        return 1.2
    return 2.0


@njit(cache=True, error_model="numpy")
def _local(f0, voicing, t, i, k, cutoff):
    if i < k:
        pv = max(min(float(voicing[t, i]), 1.0), 0.01)
        thr = 4.0 if pv < cutoff else 0.0
        return (-np.log(pv) + thr) * 2.0 + _fweight(float(f0[t, i]))
    for j in range(k):
        if voicing[t, j] >= cutoff:
            return 8.0
    return 0.0


@njit(cache=True, error_model="numpy")
def viterbi_states(f0, voicing, cutoff, buflen):
    """Chosen state per frame (``k`` = unvoiced) of cPitchSmootherViterbi.

    Parameters
    ----------
    f0, voicing : np.ndarray, shape (n, k), float32
    cutoff : float
        Voicing threshold (0.7).
    buflen : int
        Decision buffer (30 frames).

    Returns
    -------
    np.ndarray, shape (n,), int64
    """
    n, k = f0.shape
    m = k + 1
    paths = np.zeros((2, m, buflen), np.int64)
    cost = np.zeros(m)
    new = np.zeros(m)
    best = np.zeros(n, np.int64)
    cur = 0
    conv = -1
    last_change = 1.0
    for t in range(n):
        if t == 0:
            for i in range(m):
                cost[i] = _local(f0, voicing, 0, i, k, cutoff)
                paths[cur, i, 0] = i
        else:
            nxt = 1 - cur
            for i in range(m):
                best_j = 0
                best_c = 0.0
                for j in range(m):
                    # transition from state j (previous frame) to state i (this frame)
                    if i < k and j < k:
                        fp = f0[t - 1, j]
                        fc = f0[t, i]
                        if fp == 0 or fc == 0:
                            tc = 999.0
                        else:
                            r = np.log(float(np.float32(fc / fp)))
                            tc = 10.0 * abs(r) + 10.0 * abs(r - last_change)
                            last_change = r
                    elif i == k and j == k:
                        tc = 1.0
                    else:
                        last_change = 0.0
                        tc = 10.0
                    c = tc + cost[j]
                    if j == 0 or c < best_c:
                        best_c = c
                        best_j = j
                new[i] = best_c + _local(f0, voicing, t, i, k, cutoff)
                for q in range(buflen):
                    paths[nxt, i, q] = paths[cur, best_j, q]
                paths[nxt, i, t % buflen] = i
            for i in range(m):
                cost[i] = new[i]
            cur = nxt
        path_idx = t + 1
        if path_idx - conv > buflen:
            s = 0
            for i in range(1, m):
                if cost[i] < cost[s]:
                    s = i
            conv += 1
            best[conv] = paths[cur, s, conv % buflen]
        else:
            q = conv + 1
            while q < path_idx:
                x = paths[cur, 0, q % buflen]
                same = True
                for i in range(1, m):
                    if paths[cur, i, q % buflen] != x:
                        same = False
                        break
                if not same:
                    break
                conv += 1
                best[conv] = x
                q += 1
    s = 0
    for i in range(1, m):
        if cost[i] < cost[s]:
            s = i
    for q in range(conv + 1, n):
        best[q] = paths[cur, s, q % buflen]
    return best


# ------------------------------------------------------------------ jitter, shimmer, HNR

@njit(cache=True, fastmath=True, error_model="numpy")
def _correlations(x, start, lo, hi, cc):
    """Pearson r of x[start:start+L] with x[start+L:start+2L], L = lo..hi (approximate
    arithmetic: only used to find the best period length)."""
    seg = x[start:start + 2 * hi]
    p1 = np.zeros(2 * hi + 1)
    p2 = np.zeros(2 * hi + 1)
    for i in range(2 * hi):
        v = float(seg[i])
        p1[i + 1] = p1[i] + v
        p2[i + 1] = p2[i] + v * v
    for L in range(lo, hi + 1):
        sxy = 0.0
        for i in range(L):
            sxy += float(seg[i]) * float(seg[i + L])
        sx, sxx = p1[L], p2[L]
        sy, syy = p1[2 * L] - sx, p2[2 * L] - sxx
        cov = sxy - sx * sy / L
        vx = sxx - sx * sx / L
        vy = syy - sy * sy / L
        den = np.sqrt(max(vx, 0.0)) * np.sqrt(max(vy, 0.0))
        cc[L - lo] = cov / den if den > 0 else np.nan


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


@njit(cache=True, error_model="numpy")
def voice_quality(wave, f0, search):
    """cPitchJitter: jitterLocal, jitterDDP, shimmerLocal and logHNR per 10 ms frame.

    Parameters
    ----------
    wave : np.ndarray, shape (n_samples,), float32
        44.1 kHz samples as openSMILE reads them (16-bit value / 32767); sums in float64.
    f0 : np.ndarray, shape (n,), float32
        F0 per frame after the energy gate (0 = unvoiced).
    search : float
        Relative period search range (0.25).

    Returns
    -------
    np.ndarray, shape (n, 4)
    """
    n = f0.shape[0]
    out = np.zeros((n, 4))
    last_idx = 0
    last_mis = 0
    last_t0 = 0.0
    last_diff = 0.0
    last_jl = 0.0
    last_jd = 0.0
    last_sh = 0.0
    total = wave.shape[0]
    cc = np.zeros(2 * FRAME)
    starts = np.zeros(FRAME + 4, np.int64)
    for t in range(n):
        f = float(f0[t])
        read0 = STEP + last_mis
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
        tf = (1.0 / f) * SR
        t0f = int(np.floor(tf + 0.5))
        lo = int(np.floor((1.0 - search) * tf))
        hi = int(np.ceil((1.0 + search) * tf))
        to_read = max(read0, 2 * hi + 2)
        to_read = min(to_read, last_mis + FRAME)
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
                period = float(np.float32(abs(lo + x) * (1.0 / SR)))
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
    return out


# ------------------------------------------------------------- spectrum -> F0 candidates

@njit(cache=True, fastmath=True, error_model="numpy")
def candidates(mag, sig, pinv, dx, klo, ca, cb, cc2, cd, audw, shifts, fmin_t, step_t,
               min_pitch, max_pitch, n_cand, out_f0, out_voice):
    """cSpecScale + cPitchShs + cPitchBase per frame (rows of ``mag``).

    ``mag`` (n, nmag) FFT magnitudes; the spline tables (``sig``, ``pinv``, ``dx``: the natural
    spline's tridiagonal recursion; ``klo``, ``ca``..``cd``: evaluation at the octave-scale
    points) and the auditory weights come from :func:`emolab.features.pitch._tables`.
    Writes the candidates (Hz, 0 = none; the best-scored first) and their voicing.
    """
    n, nmag = mag.shape
    nb = 8                                   # frames side by side (the spline recursions
    y = np.empty(nmag)                       # are sequential along frequency)
    yb = np.empty((nmag, nb))
    y2 = np.zeros((nmag, nb))
    u = np.zeros((nmag, nb))
    spb = np.empty((nmag, nb), np.float32)
    ssb = np.empty((nmag, nb), np.float32)
    inv_dx = 1.0 / dx
    six_span = np.zeros(nmag)
    six_span[1:nmag - 1] = 6.0 / (dx[1:] + dx[:-1])
    back = (sig - 1.0) * pinv
    ss = np.empty(nmag, np.float32)
    flag = np.empty(nmag, np.uint8)
    prevpk = np.empty(nmag, np.int64)
    peaks = np.empty(nmag, np.int64)
    cf = np.zeros(n_cand)
    cs = np.zeros(n_cand, np.float32)
    cv = np.zeros(n_cand)
    for r in range(n):
        b = r % nb
        if b == 0:
            m_block = min(nb, n - r)
            for q in range(m_block):
                for i in range(nmag):
                    y[i] = mag[r + q, i]
                # specEnhance: zero the bins between two peaks, more than 2 bins away from both
                flag[0] = 1 if y[0] > y[1] else 0
                for i in range(1, nmag - 1):
                    flag[i] = 1 if (y[i] > y[i - 1]) & (y[i] >= y[i + 1]) else 0
                flag[nmag - 1] = 1 if y[nmag - 1] > y[nmag - 2] else 0
                last = -1
                for i in range(nmag):
                    last = i if flag[i] else last
                    prevpk[i] = last
                nxt = nmag
                for i in range(nmag - 1, -1, -1):
                    nxt = i if flag[i] else nxt
                    if prevpk[i] >= 0 and i - prevpk[i] >= 3 and nxt < nmag and nxt - i >= 3:
                        y[i] = 0.0
                # specSmooth: (a[i-1] + 2 a[i] + a[i+1]) / 4, the last bin kept
                prev = 0.0
                for i in range(nmag - 1):
                    cur = y[i]
                    yb[i, q] = (prev + 2.0 * cur + y[i + 1]) / 4.0
                    prev = cur
                yb[nmag - 1, q] = y[nmag - 1]
            # natural cubic spline (second derivatives) for the block, then evaluation
            for i in range(1, nmag - 1):
                for q in range(nb):
                    d = (yb[i + 1, q] - yb[i, q]) * inv_dx[i] - (yb[i, q] - yb[i - 1, q]) * inv_dx[i - 1]
                    u[i, q] = (d * six_span[i] - sig[i] * u[i - 1, q]) * pinv[i]
            for i in range(nmag - 2, 0, -1):
                for q in range(nb):
                    y2[i, q] = back[i] * y2[i + 1, q] + u[i, q]
            for i in range(nmag):
                k = klo[i]
                for q in range(nb):
                    v = np.float32(ca[i] * yb[k, q] + cb[i] * yb[k + 1, q] + cc2[i] * y2[k, q]
                                   + cd[i] * y2[k + 1, q])
                    spb[i, q] = np.float32(v * audw[i]) if v > 0.0 else np.float32(0.0)
            # subharmonic summation: the spectrum shifted down by log2(h) octaves, weighted 0.85^(h-1)
            for i in range(nmag):
                for q in range(nb):
                    ssb[i, q] = spb[i, q]
            scale = np.float32(0.85)
            for s in shifts:
                for j in range(s, nmag):
                    for q in range(nb):
                        ssb[j - s, q] += spb[j, q] * scale
                scale = np.float32(scale * np.float32(0.85))
        mean = 0.0
        for j in range(nmag):
            ss[j] = ssb[j, b] / np.float32(15.0)
            if ss[j] < 0:
                ss[j] = 0.0
            mean += ss[j]
        mean /= nmag
        # the n_cand highest peaks, in score order (openSMILE's insertion)
        for j in range(n_cand):
            cs[j] = 0.0
            cf[j] = 0.0
        npk = 0
        for i in range(1, nmag - 1):
            peaks[npk] = i
            npk += 1 if (ss[i - 1] < ss[i]) & (ss[i] > ss[i + 1]) else 0
        got = 0
        for p in range(npk):
            i = peaks[p]
            if got == n_cand and not cs[n_cand - 1] < ss[i]:
                continue
            for j in range(n_cand):
                if cs[j] == 0.0 or cs[j] < ss[i]:
                    for q in range(n_cand - 1, j, -1):
                        cs[q] = cs[q - 1]
                        cf[q] = cf[q - 1]
                    cf[j] = i
                    cs[j] = ss[i]
                    if got < n_cand:
                        got += 1
                    break
        # parabolic interpolation on the log axis, Hz, voicing
        for c in range(got):
            j = int(cf[c])
            # vertex of the parabola through the peak and its neighbours (bin units;
            # the bins are equally spaced on the log axis)
            y1, y2_, y3 = float(ss[j - 1]), float(ss[j]), float(ss[j + 1])
            den = y1 - 2.0 * y2_ + y3
            off = 0.5 * (y1 - y3) / den if den != 0.0 else 0.0
            sc = y2_ - 0.25 * (y1 - y3) * off if den != 0.0 else y2_
            x = (cf[c] + off) * step_t + fmin_t
            cf[c] = np.float32(np.exp(x * np.log(2.0)))
            cs[c] = np.float32(sc)
            cv[c] = np.float32(1.0 - mean / sc) if (sc > 0.0 and sc > mean) else 0.0
        for c in range(got, n_cand):
            cf[c] = 0.0
            cv[c] = 0.0
            cs[c] = 0.0
        # drop candidates outside the pitch range (keeping the order)
        m = 0
        for c in range(n_cand):
            if cf[c] >= min_pitch and cf[c] <= max_pitch:
                out_f0[r, m] = cf[c]
                out_voice[r, m] = cv[c]
                cs[m] = cs[c]
                m += 1
        for c in range(m, n_cand):
            out_f0[r, c] = 0.0
            out_voice[r, c] = 0.0
            cs[c] = 0.0
        # the highest score to the front
        b = 0
        for c in range(1, n_cand):
            if cs[c] > cs[b]:
                b = c
        if b > 0:
            tf = out_f0[r, 0]
            out_f0[r, 0] = out_f0[r, b]
            out_f0[r, b] = tf
            tv = out_voice[r, 0]
            out_voice[r, 0] = out_voice[r, b]
            out_voice[r, b] = tv

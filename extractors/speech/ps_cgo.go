//go:build cgo && !nopocketsphinx

package speech

/*
#cgo pkg-config: pocketsphinx
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stdio.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

// The last error PocketSphinx logged on this OS thread. A cgo call runs on
// one thread from start to end, so a wrapper that clears it, calls the
// library and copies it out sees only its own messages.
static __thread char omni_err[512];

static void omni_err_cb(void *ud, err_lvl_t lvl, const char *fmt, ...) {
	(void)ud;
	if (lvl < ERR_ERROR) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(omni_err, sizeof omni_err, fmt, ap);
	va_end(ap);
}

static void omni_quiet(void) {
	err_set_logfp(NULL);
	err_set_callback(omni_err_cb, NULL);
}

// omni_cmn_get copies the live cepstral mean (veclen values) into out;
// returns veclen, or 0 when the decoder has no live CMN.
static int omni_cmn_get(ps_decoder_t *ps, mfcc_t *out, int max) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL || f->cmn_struct->veclen > max) {
		return 0;
	}
	cmn_live_get(f->cmn_struct, out);
	return f->cmn_struct->veclen;
}

static void omni_cmn_set(ps_decoder_t *ps, mfcc_t const *in) {
	feat_t *f = ps_get_feat(ps);
	if (f != NULL && f->cmn_struct != NULL) {
		cmn_live_set(f->cmn_struct, in);
	}
}

static void omni_take_err(char *buf, size_t n) {
	strncpy(buf, omni_err, n - 1);
	buf[n - 1] = 0;
	omni_err[0] = 0;
}

static ps_decoder_t *omni_init(char **argv, int argc, char *errbuf, size_t n) {
	omni_err[0] = 0;
	ps_decoder_t *ps = NULL;
	cmd_ln_t *cfg = cmd_ln_parse_r(NULL, ps_args(), argc, argv, 0);
	if (cfg != NULL) {
		ps = ps_init(cfg);
		cmd_ln_free_r(cfg);
	}
	omni_take_err(errbuf, n);
	return ps;
}

// omni_start starts a fresh stream (frame times from 0) and utterance,
// with the live cepstral mean reset to cmn (NULL: left as it is), so a
// call's result does not depend on the calls before it.
static int omni_start(ps_decoder_t *ps, mfcc_t const *cmn, char *errbuf, size_t n) {
	omni_err[0] = 0;
	int r = ps_start_stream(ps);
	if (r >= 0 && cmn != NULL) {
		omni_cmn_set(ps, cmn);
	}
	if (r >= 0) {
		r = ps_start_utt(ps);
	}
	omni_take_err(errbuf, n);
	return r;
}

static int omni_process(ps_decoder_t *ps, const int16 *data, size_t len, char *errbuf, size_t n) {
	omni_err[0] = 0;
	int r = ps_process_raw(ps, data, len, 0, 0);
	omni_take_err(errbuf, n);
	return r;
}

static int omni_end(ps_decoder_t *ps, char *errbuf, size_t n) {
	omni_err[0] = 0;
	int r = ps_end_utt(ps);
	omni_take_err(errbuf, n);
	return r;
}

// omni_prob is the posterior of the best hypothesis as a probability.
static double omni_prob(ps_decoder_t *ps) {
	return logmath_exp(ps_get_logmath(ps), ps_get_prob(ps));
}

static double omni_seg_prob(ps_decoder_t *ps, ps_seg_t *seg) {
	int32 ascr = 0, lscr = 0, lback = 0;
	return logmath_exp(ps_get_logmath(ps), ps_seg_prob(seg, &ascr, &lscr, &lback));
}
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"
)

const errBufLen = 512

// frameRate is PocketSphinx's feature frame rate (-frate, 100/s).
const frameRate = 100

var quietOnce sync.Once

func linked() error { return nil }

// psDecoder is one PocketSphinx decoder and its error buffer (C memory).
// It is used by one goroutine at a time.
type psDecoder struct {
	ps     *C.ps_decoder_t
	errbuf *C.char
	cmn    *C.mfcc_t // the initial live cepstral mean, or nil
}

const maxCeplen = 64

// newDecoder starts a decoder on the acoustic model, dictionary and
// language model files named.
func newDecoder(hmm, dict, lm string) (decoder, error) {
	quietOnce.Do(func() { C.omni_quiet() })
	// The model's feat.params (cepstral mean normalisation, filters…)
	// apply as they are.
	args := []string{"omnirank", "-hmm", hmm, "-dict", dict, "-lm", lm}
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	errbuf := (*C.char)(C.calloc(errBufLen, 1))
	if errbuf == nil {
		return nil, fmt.Errorf("speech: out of memory")
	}
	// argv is Go memory holding C pointers only: allowed by the cgo rules.
	ps := C.omni_init(&argv[0], C.int(len(argv)), errbuf, errBufLen)
	if ps == nil {
		msg := cError(errbuf)
		C.free(unsafe.Pointer(errbuf))
		return nil, fmt.Errorf("speech: starting PocketSphinx (model %s, dictionary %s, language model %s): %s", hmm, dict, lm, msg)
	}
	d := &psDecoder{ps: ps, errbuf: errbuf}
	cmn := (*C.mfcc_t)(C.calloc(maxCeplen, C.size_t(unsafe.Sizeof(C.mfcc_t(0)))))
	if cmn == nil || C.omni_cmn_get(ps, cmn, maxCeplen) == 0 {
		C.free(unsafe.Pointer(cmn))
	} else {
		d.cmn = cmn
	}
	return d, nil
}

func cError(buf *C.char) string {
	s := strings.TrimSpace(C.GoString(buf))
	if s == "" {
		return "PocketSphinx gave no reason"
	}
	return s
}

func (d *psDecoder) start() error {
	if C.omni_start(d.ps, d.cmn, d.errbuf, errBufLen) < 0 {
		return fmt.Errorf("speech: starting an utterance: %s", cError(d.errbuf))
	}
	return nil
}

func (d *psDecoder) process(pcm []int16) error {
	if len(pcm) == 0 {
		return nil
	}
	if C.omni_process(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), d.errbuf, errBufLen) < 0 {
		return fmt.Errorf("speech: decoding: %s", cError(d.errbuf))
	}
	return nil
}

// end finishes the utterance and reads the hypothesis, its posterior and
// the words with their times and posteriors.
func (d *psDecoder) end() (hypothesis, error) {
	if C.omni_end(d.ps, d.errbuf, errBufLen) < 0 {
		return hypothesis{}, fmt.Errorf("speech: ending the utterance: %s", cError(d.errbuf))
	}
	var score C.int32
	hyp := C.ps_get_hyp(d.ps, &score)
	if hyp == nil {
		return hypothesis{}, nil
	}
	h := hypothesis{text: C.GoString(hyp)}
	if strings.TrimSpace(h.text) == "" {
		return hypothesis{}, nil
	}
	h.prob = float64(C.omni_prob(d.ps))
	for seg := C.ps_seg_iter(d.ps); seg != nil; seg = C.ps_seg_next(seg) {
		var sf, ef C.int
		C.ps_seg_frames(seg, &sf, &ef)
		h.words = append(h.words, Word{
			Text:       C.GoString(C.ps_seg_word(seg)),
			Start:      time.Duration(sf) * time.Second / frameRate,
			End:        time.Duration(ef+1) * time.Second / frameRate,
			Confidence: float64(C.omni_seg_prob(d.ps, seg)),
		})
	}
	return h, nil
}

func (d *psDecoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
	}
	if d.errbuf != nil {
		C.free(unsafe.Pointer(d.errbuf))
		d.errbuf = nil
	}
	if d.cmn != nil {
		C.free(unsafe.Pointer(d.cmn))
		d.cmn = nil
	}
}

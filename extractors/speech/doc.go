// Package speech owns speech recognition: spoken audio (any format
// extractors/preprocess decodes, resampled to 16 kHz mono) becomes a
// Transcript of normalised words with a confidence, through PocketSphinx
// (Debian's libpocketsphinx 0.8+5prealpha and its pretrained US-English
// acoustic model, pocketsphinx-en-us, BSD-licensed) called through cgo.
//
// It owns:
//   - Pool: one PocketSphinx decoder per slot (decoders are not thread-safe),
//     a bounded wait for a free slot, a per-call timeout that is never
//     overrun (audio is fed in 0.25 s chunks and the caller is answered when
//     the deadline passes, while the decoder finishes in the background), a
//     duration limit checked on the file's header before its samples are
//     decoded, and a hot swap of the language model (in-flight calls finish
//     on the old decoders, which are freed after them).
//   - LanguageModel: a catalogue-adapted trigram language model in ARPA
//     format (interpolated absolute discounting with back-off weights) over
//     the Normalize()d words of the catalogue's titles, brands and
//     categories plus common query phrases, and a pronunciation dictionary
//     of exactly those words: from the base dictionary (CMUdict, every
//     variant), else from a G2P, else spelled out letter by letter. Only
//     catalogue words can be recognised with it, which is the point: product
//     words win over general English.
//   - Normalize and WER: the one text normalisation (lower case, numbers as
//     words, punctuation dropped) used for language models, queries and
//     word error rates.
//
// Building: the files that call PocketSphinx carry the build constraint
// `cgo && !nopocketsphinx` and link it with `#cgo pkg-config: pocketsphinx`
// (which pulls in sphinxbase). The whole project needs cgo anyway (ONNX
// Runtime through onnxruntime_go), so to build without the library use
// `go build -tags nopocketsphinx`: Available and NewPool then report
// ErrUnavailable, and everything else (language models, Normalize, WER)
// still works.
//
// PocketSphinx logs through one process-wide sphinxbase callback. The
// package installs it once: informational output is dropped, and error
// messages are kept per OS thread so that a failing call returns them in
// its error.
package speech

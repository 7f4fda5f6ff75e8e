// Package samplecatalog owns the demo catalogue: it turns the Noto emoji
// artwork and names of the npm package emoji-datasource-google (MIT) into a
// few hundred shop-like products, with a spoken voice-over per product made
// by espeak-ng and sox, and a set of sample queries.
//
// Nothing here is committed: the catalogue is built at setup time by
// cmd/mksample (make demo) into a folder, by default
// .cache/sample-catalog in the repository:
//
//	<out>/<id>/product.json   a storage.Product; media keys relative to <id>/
//	<out>/<id>/image.png      the emoji artwork (64×64 RGBA PNG)
//	<out>/<id>/voice.wav      the voice-over, 16 kHz mono 16-bit PCM
//	<out>/catalog.jsonl       one storage.Product per line, media keys relative to <out>
//	<out>/queries/            query inputs that are not byte-identical to any product media
//	<out>/queries/queries.json the queries and the product id each should find
//	<out>/queries/eval.jsonl  the same queries as a labelled query file for `omnirank eval`
//	<out>/queries/synonyms.jsonl labelled text queries sharing no word with the relevant titles (WordNet)
//	<out>/queries/titles.jsonl   labelled exact-title queries
//	<out>/.stamp              what the folder was built from; a matching stamp skips the rebuild
//
// The labelled query files hold one {"id","text","relevant"} object a
// line (relevant product ids, most relevant first). synonyms.jsonl is
// derived from the WordNet database (Debian wordnet-base; without it the
// files are not written) by DeriveSynonymQueries: synonyms and hypernyms
// of each title's head noun, dropping any query that shares a word, lemma
// or stem with a relevant title. Its ids carry a deterministic split by a
// hash of the query text: "syn-dev-…" may be looked at while choosing
// model settings, "syn-test-…" is only reported.
//
// The pure parts (titles, category paths, descriptions, brands, prices) are
// deterministic functions of the emoji record, so the same package version
// always gives the same catalogue byte for byte.
package samplecatalog

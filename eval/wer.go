package eval

import "github.com/omnirank/omnirank/extractors/speech"

// WordErrors counts the word edits (substitutions, deletions, insertions)
// that turn the reference said into heard, and the reference's words, both
// normalised as the recogniser normalises (speech.CountWER). errors / words
// is the word error rate.
func WordErrors(said, heard string) (errors, words int) {
	c := speech.CountWER(said, heard)
	return c.Errors(), c.Reference
}

package eval

import "github.com/omnirank/omnirank/extractors/speech"

// WordErrors counts the word edits (substitutions, deletions, insertions)
// that turn the reference said into heard, and the reference's words, both
// normalised as the recogniser normalises (speech.Normalize: lower case,
// numbers as words, punctuation dropped). errors / words is the word
// error rate.
func WordErrors(said, heard string) (errors, words int) {
	ref, hyp := speech.Normalize(said), speech.Normalize(heard)
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)], len(ref)
}

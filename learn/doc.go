// Package learn trains the ranker's scorer from what shoppers did
// (issue 12, learning to rank): it joins the IMPRESSIONS stream (what each
// Recommend response showed, with the feature values the scorer used) with
// the FEEDBACK stream (purchase > cart > click > view, carrying the
// response's request id) into labelled examples — 1 for a shown product
// clicked or better, 0 for one only viewed or not acted on — and fits a
// logistic regression
//
//	L = −1/N Σ [y log p + (1−y) log(1−p)] + λ‖w‖²,  p = σ(b + w·z)
//
// by mini-batch gradient descent on standardised features z, in pure Go,
// deterministic for a seed. The split is by user and time: the held-out set
// is every impression of a hashed share of the users plus every impression
// after a time cutoff, so the model is judged on people and moments it did
// not see; training stops early when the held-out log loss stops falling.
//
// The shown position is a feature while training, so that the model does
// not credit the other features with the clicks the top slots get anyway
// (position bias); at serving its standardised value is 0, as if every
// candidate were shown at the average position. The report compares the
// held-out NDCG@10 (package eval) of re-ranking each held-out impression's
// shown list by the learned model against the hand weights
// (ranker.DefaultLinearScorer).
//
// Load reads the two streams into a Joiner (Join for slices); Train fits
// and reports. A trained Model is a JSON artefact (feature names, means,
// standard deviations, weights, bias, the report); Model.Scorer turns it
// into a ranker.Scorer; Publish stores it in the ranker-models bucket and
// Follow hot-loads the newest into a ranker (Ranker.SetScorer).
package learn

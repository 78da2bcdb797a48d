package main

import (
	"math"
	"slices"
)

// cutoff is the rank depth of every measure: the first page a reader sees.
const cutoff = 10

// scores are the measures of one query's ranking.
type scores struct {
	recall, rr, ndcg float64
}

// measure scores ranked (the ids the engine returned, best first) against the grades of the
// relevant items: recall@10 (the share of relevant items in the first 10), the reciprocal rank
// of the first relevant item within the first 10 (0 when there is none; its mean is MRR@10), and
// nDCG@10 with gains 2^grade-1 and a log2(rank+1) discount.
func measure(ranked []string, grades map[string]int) scores {
	if len(ranked) > cutoff {
		ranked = ranked[:cutoff]
	}
	var s scores
	var found int
	var dcg float64
	for i, id := range ranked {
		g := grades[id]
		if g == 0 {
			continue
		}
		found++
		if s.rr == 0 {
			s.rr = 1 / float64(i+1)
		}
		dcg += gain(g) / math.Log2(float64(i+2))
	}
	ideal := make([]int, 0, len(grades))
	for _, g := range grades {
		ideal = append(ideal, g)
	}
	slices.Sort(ideal)
	slices.Reverse(ideal)
	var idcg float64
	for i, g := range ideal {
		if i == cutoff {
			break
		}
		idcg += gain(g) / math.Log2(float64(i+2))
	}
	s.recall = float64(found) / float64(min(len(grades), cutoff))
	if idcg > 0 {
		s.ndcg = dcg / idcg
	}
	return s
}

func gain(grade int) float64 { return math.Exp2(float64(grade)) - 1 }

// total accumulates the scores of several queries.
type total struct {
	n                int
	recall, rr, ndcg float64
}

func (t *total) add(s scores) {
	t.n++
	t.recall += s.recall
	t.rr += s.rr
	t.ndcg += s.ndcg
}

// mean returns the mean of each measure.
func (t total) mean() scores {
	if t.n == 0 {
		return scores{}
	}
	n := float64(t.n)
	return scores{recall: t.recall / n, rr: t.rr / n, ndcg: t.ndcg / n}
}

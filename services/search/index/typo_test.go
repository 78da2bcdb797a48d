package index

import (
	"slices"
	"testing"
)

func TestEditVariants(t *testing.T) {
	v := editVariants("cat")
	for _, want := range []string{"at", "ct", "ca", "act", "cta", "bat", "cut", "cast", "cats", "scat"} {
		if !slices.Contains(v, want) {
			t.Errorf("editVariants(cat) lacks %q", want)
		}
	}
	for _, bad := range []string{"cat", "dog", "tac", "c"} {
		if slices.Contains(v, bad) {
			t.Errorf("editVariants(cat) has %q, which is not one edit away", bad)
		}
	}
	seen := map[string]bool{}
	for _, w := range v {
		if seen[w] {
			t.Fatalf("editVariants(cat) repeats %q", w)
		}
		seen[w] = true
	}
	// Arabic words get Arabic letters, never Latin ones; normalised-away forms (ة, ى, أ) are not
	// inserted.
	ar := editVariants("غرناظه")
	if !slices.Contains(ar, "غرناطه") {
		t.Error("editVariants(غرناظه) lacks غرناطه")
	}
	for _, w := range ar {
		for _, r := range w {
			if r < 0x0621 || r > 0x064A || r == 'ة' || r == 'ى' || r == 'أ' {
				t.Fatalf("editVariants(غرناظه) has %q, with %q", w, r)
			}
		}
	}
}

func TestTypoWords(t *testing.T) {
	q := parseText("the yelowstone cst gutenburg marathn omelete sourdugh")
	known := func(w string) bool { return w == "the" }
	got := typoWords(q, known)
	// "the" is known, "cst" too short; four at most.
	want := []int{1, 3, 4, 5}
	if !slices.Equal(got, want) {
		t.Fatalf("typoWords = %v, want %v", got, want)
	}
	fixed := q.withCorrections(map[int]string{1: "yellowstone", 6: "sourdough"})
	if fixed.words[1] != "yellowstone" || fixed.words[6] != "sourdough" || fixed.prefix != "sourdough" {
		t.Fatalf("withCorrections = %+v", fixed)
	}
	if q.words[1] != "yelowstone" {
		t.Fatal("withCorrections changed the query it corrects")
	}
}

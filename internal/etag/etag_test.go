package etag

import "testing"

func TestMatch(t *testing.T) {
	cur := Version(3)
	if cur != `"3"` {
		t.Fatalf("Version(3) = %s", cur)
	}
	for header, want := range map[string]bool{
		`"3"`: true, ` "3" `: true, `*`: true, `W/"3"`: true, `"1", "3"`: true,
		`"2"`: false, `3`: false, ``: false, `"33"`: false,
	} {
		if got := Match(header, cur); got != want {
			t.Errorf("Match(%q, %s) = %v, want %v", header, cur, got, want)
		}
	}
}

func TestOf(t *testing.T) {
	a, b := Of(map[string]int{"v": 1}), Of(map[string]int{"v": 2})
	if a == b || a != Of(map[string]int{"v": 1}) || len(a) != 26 || a[0] != '"' || a[25] != '"' {
		t.Fatalf("Of: %s %s", a, b)
	}
}

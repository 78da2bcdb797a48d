package cursor

import "testing"

type pos struct {
	ID *string `json:"id"`
}

func TestRoundTripAndRejects(t *testing.T) {
	id := "a"
	raw := Encode(pos{ID: &id})
	var got pos
	if err := Decode(raw, &got); err != nil || got.ID == nil || *got.ID != "a" {
		t.Fatalf("Decode(Encode) = %+v, %v", got, err)
	}
	for _, bad := range []string{"%%%", Encode(map[string]int{"x": 1}), Encode(pos{ID: &id}) + "e30"} {
		var p pos
		if err := Decode(bad, &p); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

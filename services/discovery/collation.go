package discovery

import (
	"encoding/hex"
	"sync"

	"golang.org/x/text/cases"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// maxTitleKeyBytes bounds a stored title collation key (before hex encoding, which doubles it): a
// key covers the primary weights of about the first 60 characters, so titles that agree that far
// are ordered by id. The bound keeps a `sort=title` cursor within the contract's 512 characters.
const maxTitleKeyBytes = 120

// titleCollator computes the `sort=title` key of a title: its collation key in the program's
// language (CLDR rules of golang.org/x/text/collate), hex encoded so that both SQLite and
// PostgreSQL order the keys as bytes. Collators are not safe for concurrent use, hence the lock.
type titleCollator struct {
	mu        sync.Mutex
	collators map[string]*collate.Collator
	buf       collate.Buffer
}

func newTitleCollator() *titleCollator {
	return &titleCollator{collators: map[string]*collate.Collator{}}
}

// key returns the sort key of title in lang (an ISO 639-1 code; an unknown one collates by the
// CLDR root order).
func (t *titleCollator) key(lang, title string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.collators[lang]
	if !ok {
		tag, err := language.Parse(lang)
		if err != nil {
			tag = language.Und
		}
		c = collate.New(tag)
		t.collators[lang] = c
	}
	k := c.KeyFromString(&t.buf, title)
	if len(k) > maxTitleKeyBytes {
		k = k[:maxTitleKeyBytes]
	}
	out := hex.EncodeToString(k)
	t.buf.Reset()
	return out
}

// tagKey returns the case-folded form the `tag` filter compares.
func tagKey(tag string) string { return cases.Fold().String(tag) }

// tagKeys returns the case-folded tags.
func tagKeys(tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = tagKey(t)
	}
	return out
}

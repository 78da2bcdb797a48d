package discovery

import (
	"testing"

	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

func TestCategories(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		news, docs, empty := newID(), newID(), newID()

		// Programs may arrive before their category's event (replay applies content.events first).
		ar := programSnap(newID(), 1, "برنامج الصباح", "ar")
		ar.CategoryID = &news
		fr := programSnap(newID(), 1, "Le Matin", "fr")
		fr.CategoryID = &news
		en := programSnap(newID(), 1, "Oceans", "en")
		en.CategoryID = &docs
		f.feed(publishedMsg(t, ar), publishedMsg(t, fr), publishedMsg(t, en))
		var p discoveryapi.PublicProgram
		f.getJSON("/api/v1/discovery/programs/"+ar.ID, &p)
		if p.Category != nil {
			t.Fatalf("category %+v before its event arrived", p.Category)
		}
		var cats discoveryapi.PublicCategoryList
		f.getJSON("/api/v1/discovery/categories", &cats)
		if len(cats.Items) != 0 {
			t.Fatalf("categories %+v before their events arrived", cats.Items)
		}

		f.feed(
			categoryUpsertedMsg(t, news, "news", 1, map[string]string{"en": "News", "ar": "أخبار"}),
			categoryUpsertedMsg(t, docs, "documentaries", 1, map[string]string{"en": "Documentaries"}),
			categoryUpsertedMsg(t, empty, "empty", 1, map[string]string{"en": "Empty"}),
		)
		for id, want := range map[string]string{ar.ID: "أخبار", fr.ID: "News", en.ID: "Documentaries"} {
			f.getJSON("/api/v1/discovery/programs/"+id, &p)
			if p.Category == nil || p.Category.Name != want || p.Category.Id.String() == "" {
				t.Fatalf("program %s (%s): category %+v, want name %q", id, p.Language, p.Category, want)
			}
		}

		type entry struct {
			slug, name string
			count      int32
		}
		check := func(path string, want ...entry) {
			t.Helper()
			f.getJSON(path, &cats)
			if len(cats.Items) != len(want) {
				t.Fatalf("%s: %+v, want %+v", path, cats.Items, want)
			}
			for i, w := range want {
				if got := cats.Items[i]; got.Slug != w.slug || got.Name != w.name || got.ProgramCount != w.count {
					t.Fatalf("%s: item %d %+v, want %+v", path, i, got, w)
				}
			}
		}
		check("/api/v1/discovery/categories", entry{"news", "News", 2}, entry{"documentaries", "Documentaries", 1})
		check("/api/v1/discovery/categories?language=ar", entry{"news", "أخبار", 2}, entry{"documentaries", "Documentaries", 1})
		check("/api/v1/discovery/categories?language=fr&limit=1", entry{"news", "News", 2})

		// A rename applies; a stale version does not.
		f.feed(categoryUpsertedMsg(t, news, "headlines", 3, map[string]string{"en": "Headlines", "ar": "عناوين"}),
			categoryUpsertedMsg(t, news, "old-news", 2, map[string]string{"en": "Old"}))
		check("/api/v1/discovery/categories?language=ar", entry{"headlines", "عناوين", 2}, entry{"documentaries", "Documentaries", 1})
		var list programList
		f.getJSON("/api/v1/discovery/programs?category=headlines", &list)
		if len(list.Items) != 2 {
			t.Fatalf("programs in headlines: %v", list.ids())
		}
		f.getJSON("/api/v1/discovery/programs?category=news", &list)
		if len(list.Items) != 0 {
			t.Fatalf("programs under the old slug: %v", list.ids())
		}

		// Moving and removing programs moves the counts.
		en.Version, en.CategoryID = 2, &news
		f.feed(updatedMsg(t, en, "category_id"), unpublishedMsg(t, fr, 2))
		check("/api/v1/discovery/categories", entry{"headlines", "Headlines", 2})

		// A deleted category is no longer shown, on programs or in the list.
		f.feed(categoryDeletedMsg(t, news))
		check("/api/v1/discovery/categories")
		f.getJSON("/api/v1/discovery/programs/"+ar.ID, &p)
		if p.Category != nil {
			t.Fatalf("deleted category %+v still shown", p.Category)
		}
	})
}

func TestLanguages(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		var langs discoveryapi.PublicLanguageList
		f.getJSON("/api/v1/discovery/languages", &langs)
		if len(langs.Items) != 0 {
			t.Fatalf("languages of an empty catalogue: %+v", langs.Items)
		}
		ar1, ar2, en := programSnap(newID(), 1, "أ", "ar"), programSnap(newID(), 1, "ب", "ar"), programSnap(newID(), 1, "A", "en")
		f.feed(publishedMsg(t, ar1), publishedMsg(t, ar2), publishedMsg(t, en))
		// Episodes do not count: the list counts programs.
		f.feed(publishedMsg(t, episodeSnap(newID(), en.ID, 1, nil, 1, base)))
		f.getJSON("/api/v1/discovery/languages", &langs)
		if len(langs.Items) != 2 || langs.Items[0] != (discoveryapi.PublicLanguage{Code: "ar", Name: "العربية", ProgramCount: 2}) ||
			langs.Items[1] != (discoveryapi.PublicLanguage{Code: "en", Name: "English", ProgramCount: 1}) {
			t.Fatalf("languages %+v", langs.Items)
		}
		// A program changing language moves its count; an emptied language disappears.
		en.Version, en.Language = 2, "ar"
		f.feed(updatedMsg(t, en, "language"), deletedMsg(t, ar1, 2))
		f.getJSON("/api/v1/discovery/languages", &langs)
		if len(langs.Items) != 1 || langs.Items[0].Code != "ar" || langs.Items[0].ProgramCount != 2 {
			t.Fatalf("languages %+v", langs.Items)
		}
	})
}

func TestProgramFilters(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		cat := newID()
		a := programSnap(newID(), 1, "A", "en")
		a.Kind, a.Tags, a.CategoryID = ptr("series"), []string{"Science", "ocean life"}, &cat
		b := programSnap(newID(), 1, "B", "ar")
		b.Tags = []string{"أخبار"}
		f.feed(publishedMsg(t, a), publishedMsg(t, b), categoryUpsertedMsg(t, cat, "science", 1, map[string]string{"en": "Science"}))
		epA := episodeSnap(newID(), a.ID, 1, nil, 1, base)
		epB := episodeSnap(newID(), b.ID, 1, nil, 1, base)
		epB.Language = "ar"
		f.feed(publishedMsg(t, epA), publishedMsg(t, epB))

		for query, want := range map[string][]string{
			"":                                    {a.ID, b.ID},
			"?kind=series":                        {a.ID},
			"?kind=show":                          {},
			"?language=ar":                        {b.ID},
			"?category=science":                   {a.ID},
			"?category=unknown":                   {},
			"?tag=science":                        {a.ID},
			"?tag=OCEAN%20LIFE":                   {a.ID},
			"?tag=ocean":                          {},
			"?tag=%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1": {b.ID},
			"?tag=%00":                            {},
			"?tag=%FF":                            {},
			"?kind=series&language=ar":            {},
		} {
			var list programList
			f.getJSON("/api/v1/discovery/programs"+query, &list)
			if !sameSet(list.ids(), want) {
				t.Errorf("programs%s: %v, want %v", query, list.ids(), want)
			}
		}
		for query, want := range map[string][]string{
			"":                          {epA.ID, epB.ID},
			"?kind=series":              {epA.ID},
			"?language=ar":              {epB.ID},
			"?category=science":         {epA.ID},
			"?category=unknown":         {},
			"?kind=podcast&language=ar": {epB.ID},
		} {
			var list episodeList
			f.getJSON("/api/v1/discovery/latest"+query, &list)
			if !sameSet(list.ids(), want) {
				t.Errorf("latest%s: %v, want %v", query, list.ids(), want)
			}
		}
	})
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	for _, w := range want {
		if !seen[w] {
			return false
		}
	}
	return true
}

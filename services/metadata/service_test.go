package metadata

import (
	"context"
	"testing"

	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

func TestListLanguages(t *testing.T) {
	s, err := New(Config{Languages: []string{"en", "ar", "en", "fr"}}, Deps{DB: databasetest.SQLite(t), CMS: newFakeCMS(t)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.ListLanguages(context.Background(), metadataapi.ListLanguagesRequestObject{})
	if err != nil {
		t.Fatal(err)
	}
	items := resp.(metadataapi.ListLanguages200JSONResponse).Items
	if len(items) != 3 || items[0].Code != "ar" || items[0].Direction != metadataapi.Rtl || items[0].NativeName != "العربية" || items[1].Code != "en" || items[2].Name != "French" {
		t.Fatalf("languages %+v", items)
	}
}

func TestNewRejectsUnknownLanguages(t *testing.T) {
	db := databasetest.SQLite(t)
	for _, codes := range [][]string{nil, {"en", "xx"}, {"EN"}, {"iw"}} {
		if _, err := New(Config{Languages: codes}, Deps{DB: db, CMS: newFakeCMS(t)}); err == nil {
			t.Errorf("New(%v) accepted", codes)
		}
	}
}

func TestNewNeedsADatabase(t *testing.T) {
	if _, err := New(Config{Languages: []string{"en"}}, Deps{CMS: newFakeCMS(t)}); err == nil {
		t.Fatal("New accepted no database")
	}
}

func TestNewNeedsTheCMS(t *testing.T) {
	if _, err := New(Config{Languages: []string{"en"}}, Deps{DB: databasetest.SQLite(t)}); err == nil {
		t.Fatal("New accepted no CMS client")
	}
}

package auth

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestIfMatchTakesListsAndWeakTags: a user's If-Match is *, or a list of tags of which one must be
// the current version's, weak tags compared by their opaque part (internal/etag, as every service).
func TestIfMatchTakesListsAndWeakTags(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, testConfig())
		pair, err := f.login(t, "admin@example.com", f.adminPassword(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx := f.as(t, pair.AccessToken)
		me, err := f.svc.GetMe(ctx, authapi.GetMeRequestObject{})
		if err != nil {
			t.Fatal(err)
		}
		tag := *me.(authapi.GetMe200JSONResponse).Headers.ETag
		version := 0
		if _, err := fmt.Sscanf(tag, `"%d"`, &version); err != nil {
			t.Fatalf("ETag %s is not a quoted version", tag)
		}
		update := func(ifMatch, name string) error {
			_, err := f.svc.UpdateMe(ctx, authapi.UpdateMeRequestObject{Params: authapi.UpdateMeParams{IfMatch: &ifMatch}, Body: &authapi.UpdateMeRequest{DisplayName: &name}})
			return err
		}
		for i, ifMatch := range []string{
			fmt.Sprintf(`"%d", W/"%d"`, version+40, version),
			fmt.Sprintf(`W/"%d"`, version+1),
			fmt.Sprintf(`"%d" , "%d"`, version+2, version+50),
			"*",
		} {
			if err := update(ifMatch, fmt.Sprintf("Admin %d", i)); err != nil {
				t.Fatalf("If-Match %s: %v", ifMatch, err)
			}
		}
		if err := update(fmt.Sprintf(`"%d", W/"%d"`, version, version+1), "Stale"); status(err) != 412 {
			t.Fatalf("If-Match of stale versions only: %v, want 412", err)
		}
	})
}

// TestCursorsBelongToTheirList: the users' and the API keys' lists page with internal/cursor
// positions of their own, and refuse the other's cursor and anything else with 400.
func TestCursorsBelongToTheirList(t *testing.T) {
	id := uuid.Must(uuid.NewV7()).String()
	if got, err := decodeUserCursor(encodeUserCursor(id)); err != nil || got != id {
		t.Fatalf("user cursor round trip: %q, %v", got, err)
	}
	if got, err := decodeKeyCursor(encodeKeyCursor(id)); err != nil || got != id {
		t.Fatalf("key cursor round trip: %q, %v", got, err)
	}
	legacy := base64.RawURLEncoding.EncodeToString([]byte("u:" + id)) // the format before internal/cursor
	if got, err := decodeUserCursor(legacy); err != nil || got != id {
		t.Fatalf("a users' cursor of the earlier format: %q, %v", got, err)
	}
	if got, err := decodeKeyCursor("k" + legacy); err != nil || got != id {
		t.Fatalf("a keys' cursor of the earlier format: %q, %v", got, err)
	}
	if _, err := decodeKeyCursor(legacy); err == nil {
		t.Fatal("the keys' list took a users' cursor of the earlier format")
	}
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, testConfig())
		pair, err := f.login(t, "admin@example.com", f.adminPassword(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx := f.as(t, pair.AccessToken)
		for _, c := range []string{
			encodeKeyCursor(id),
			base64.RawURLEncoding.EncodeToString([]byte(`{"user":"not-a-uuid"}`)),
			base64.RawURLEncoding.EncodeToString([]byte(`{}`)),
			"%%",
		} {
			if _, err := f.svc.ListUsers(ctx, authapi.ListUsersRequestObject{Params: authapi.ListUsersParams{Cursor: &c}}); status(err) != 400 {
				t.Errorf("ListUsers with cursor %q: %v, want 400", c, err)
			}
		}
		userCursor := encodeUserCursor(id)
		if _, err := f.svc.ListApiKeys(ctx, authapi.ListApiKeysRequestObject{Params: authapi.ListApiKeysParams{Cursor: &userCursor}}); status(err) != 400 {
			t.Errorf("ListApiKeys with a users' cursor: %v, want 400", err)
		}
	})
}

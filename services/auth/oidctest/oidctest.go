// Package oidctest runs a real OpenID Provider for tests: the example OP of
// github.com/zitadel/oidc/v3 (discovery, authorization code flow with PKCE, RS256 ID tokens,
// userinfo, an HTML login form) on a loopback port, with the clients and users a test names, and
// drives its login form as a browser would.
package oidctest

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/text/language"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// Password is the password of every user of the provider.
const Password = "verysecure"

// User is a person known to the provider.
type User struct {
	ID, Username, Email string
	EmailVerified       bool
}

// Client is a client registered at the provider (a confidential web client: secret and PKCE).
type Client struct {
	ID, Secret  string
	RedirectURI string
}

// Provider is a running OP.
type Provider struct {
	Issuer string
}

type users map[string]*storage.User

func (u users) GetUserByID(id string) *storage.User { return u[id] }
func (u users) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u users) ExampleClientID() string { return storage.ServiceUserID }

// Start runs the provider until the test ends.
func Start(t testing.TB, clients []Client, people []User) *Provider {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	us := users{}
	for _, p := range people {
		us[p.ID] = &storage.User{ID: p.ID, Username: p.Username, Password: Password, FirstName: "Test", LastName: p.ID,
			Email: p.Email, EmailVerified: p.EmailVerified, PreferredLanguage: language.English}
	}
	cs := map[string]*storage.Client{}
	for _, c := range clients {
		cs[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURI)
	}
	router := exampleop.SetupServer(issuer, storage.NewStorageWithClients(us, cs), slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	srv := &http.Server{Handler: router}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &Provider{Issuer: issuer}
}

// Login follows authorizeURL as a browser, signs in as username on the provider's form, and
// returns the URL the provider redirects to at the end (the client's redirect URI with code and
// state). An URL outside the provider is returned at once.
func (p *Provider) Login(t testing.TB, authorizeURL, username string) *url.URL {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next, err := url.Parse(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if !strings.HasPrefix(next.String(), p.Issuer) {
			return next
		}
		var resp *http.Response
		if next.Path == "/login/username" {
			form := url.Values{"id": {next.Query().Get("authRequestID")}, "username": {username}, "password": {Password}}
			resp, err = client.PostForm(p.Issuer+"/login/username", form)
		} else {
			resp, err = client.Get(next.String())
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 != 3 || loc == "" {
			t.Fatalf("the provider answered %s %d: %.300s", next, resp.StatusCode, body)
		}
		if next, err = next.Parse(loc); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the provider redirected too often")
	return nil
}

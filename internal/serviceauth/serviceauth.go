// Package serviceauth lets a service call others as a service account: it logs in through the
// auth service's generated client and puts the access token on outgoing requests, logging in again
// shortly before the token expires.
package serviceauth

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
)

// Authenticator is what Account needs of the auth service; the generated authapi client satisfies it.
type Authenticator interface {
	LoginWithResponse(ctx context.Context, body authapi.LoginJSONRequestBody, reqEditors ...authapi.RequestEditorFn) (*authapi.LoginResponse, error)
}

// Account is a service account's session. It is safe for concurrent use.
type Account struct {
	Auth            Authenticator
	Email, Password string
	Now             func() time.Time // nil: time.Now

	mu      sync.Mutex
	token   string
	expires time.Time
}

// renewBefore is how long before its expiry a token is replaced.
const renewBefore = time.Minute

// Token returns a valid access token, logging in when there is none or it is about to expire.
func (a *Account) Token(ctx context.Context) (string, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && now().Add(renewBefore).Before(a.expires) {
		return a.token, nil
	}
	pw := authapi.Password(a.Password)
	resp, err := a.Auth.LoginWithResponse(ctx, authapi.LoginJSONRequestBody{Email: authapi.Email(a.Email), Password: &pw})
	if err != nil {
		return "", fmt.Errorf("serviceauth: log in as %s: %w", a.Email, err)
	}
	if resp.JSON200 == nil {
		return "", fmt.Errorf("serviceauth: log in as %s: the auth service answered %d", a.Email, resp.StatusCode())
	}
	a.token, a.expires = resp.JSON200.AccessToken, now().Add(time.Duration(resp.JSON200.ExpiresIn)*time.Second)
	return a.token, nil
}

// Authorize sets the Authorization header of req; it fits every generated client's
// RequestEditorFn.
func (a *Account) Authorize(ctx context.Context, req *http.Request) error {
	t, err := a.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t)
	return nil
}

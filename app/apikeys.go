package app

import (
	"context"
	"net/http"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
)

// keyExchange trades API keys for tokens through the auth service's exchangeApiKey operation, for
// the verifiers of a process that does not run the auth service. It names the request's client in
// X-Forwarded-For, which the auth service believes from internal networks, so the key's allowed
// ranges and its last use see the client and not this process.
type keyExchange struct{ auth *authapi.ClientWithResponses }

func (k keyExchange) ExchangeAPIKey(ctx context.Context, key, client string) (string, error) {
	resp, err := k.auth.ExchangeApiKeyWithResponse(ctx, authapi.ExchangeApiKeyJSONRequestBody{ApiKey: key}, func(_ context.Context, r *http.Request) error {
		if client != "" {
			r.Header.Set("X-Forwarded-For", client)
		}
		return nil
	})
	if err != nil {
		return "", apierror.Unavailable("the auth service cannot check API keys now; retry", time.Second)
	}
	switch resp.StatusCode() {
	case http.StatusOK:
		if resp.JSON200 == nil {
			return "", apierror.Unavailable("the auth service answered an API key exchange without a token", time.Second)
		}
		return resp.JSON200.AccessToken, nil
	case http.StatusUnauthorized, http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "", authn.ErrKeyInvalid
	case http.StatusTooManyRequests:
		return "", apierror.TooManyRequests(time.Second).WithDetail("too many API key exchanges from this address; retry later")
	}
	return "", apierror.Unavailable("the auth service cannot check API keys now; retry", time.Second)
}

package auth

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/authdb"
	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// KeyTokenTTL is the longest life of a token an API key is exchanged for: how long a token a
// client got from exchangeApiKey works after the key is revoked where the revocation feed does not
// reach (gateways and services re-check a key every authn.KeyRecheck themselves).
const KeyTokenTTL = time.Minute

// lastUseGranularity is how precise a key's last use time is.
const lastUseGranularity = 10 * time.Second

// defaultRotationGrace is how long a rotated key's previous secret keeps working by default.
const defaultRotationGrace = time.Hour

var _ authn.KeyExchanger = (*Service)(nil)

// newKeySecret returns a new API key secret: the prefix and 32 random bytes, base64url.
func newKeySecret() string { return authn.KeyPrefix + randomToken(32) }

// keyPrefixLen is how much of a secret is kept in the clear to tell keys apart.
const keyPrefixLen = 12

func apiKeyToAPI(k *apiKey, now time.Time) authapi.ApiKey {
	scopes := make([]authapi.Scope, len(k.Scopes))
	for i, sc := range k.Scopes {
		scopes[i] = authapi.Scope(sc)
	}
	out := authapi.ApiKey{
		Id: uuid.MustParse(k.ID), OwnerId: uuid.MustParse(k.OwnerID), Name: k.Name, Prefix: k.Prefix, Scopes: scopes,
		AllowedCidrs: slices.Clone(k.AllowedCIDRs), ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt, RotatedAt: k.RotatedAt, LastUsedAt: k.LastUsedAt,
	}
	if k.PreviousHash != "" && k.PreviousValidUntil != nil && now.Before(*k.PreviousValidUntil) {
		out.PreviousValidUntil = k.PreviousValidUntil
	}
	if k.LastUsedAddress != "" {
		addr := k.LastUsedAddress
		out.LastUsedAddress = &addr
	}
	return out
}

func withSecret(k authapi.ApiKey, secret string) authapi.ApiKeySecret {
	return authapi.ApiKeySecret{
		Id: k.Id, OwnerId: k.OwnerId, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, AllowedCidrs: k.AllowedCidrs,
		ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt, RotatedAt: k.RotatedAt, PreviousValidUntil: k.PreviousValidUntil,
		LastUsedAt: k.LastUsedAt, LastUsedAddress: k.LastUsedAddress, Key: secret,
	}
}

// keyFor loads key id for the caller: its owner and ADMINs see it, anyone else gets 404.
func (s *Service) keyFor(ctx context.Context, c *authdb.Client, p *authn.Principal, id uuid.UUID) (*apiKey, error) {
	k, err := s.store.apiKeyByID(ctx, c, id.String())
	if errors.Is(err, errNotFound) || (err == nil && k.OwnerID != p.Subject && !p.Has(policy.RoleAdmin)) {
		return nil, apierror.NotFound("no API key with this id")
	}
	return k, err
}

// checkKeyScopes refuses scopes that a key may not hold or that its owner's roles do not grant.
func checkKeyScopes(scopes []string, owner *user) error {
	held := policy.ScopesOf(owner.Roles)
	var fields []apierror.FieldError
	for i, sc := range scopes {
		switch {
		case !policy.KeyGrantable(sc):
			fields = append(fields, apierror.FieldError{Field: fmt.Sprintf("scopes/%d", i), Message: "an API key cannot hold " + sc, Code: "not_grantable"})
		case !slices.Contains(held, sc):
			fields = append(fields, apierror.FieldError{Field: fmt.Sprintf("scopes/%d", i), Message: "the key's owner does not hold " + sc, Code: "not_held"})
		}
	}
	if len(fields) > 0 {
		return apierror.Validation("scopes: "+fields[0].Message, fields...)
	}
	return nil
}

// parseCIDRs reads the allowed ranges, in their canonical form.
func parseCIDRs(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for i, c := range in {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			f := apierror.FieldError{Field: fmt.Sprintf("allowed_cidrs/%d", i), Message: "not an address range in CIDR notation", Code: "invalid"}
			return nil, apierror.Validation("allowed_cidrs: "+f.Message, f)
		}
		out = append(out, pfx.Masked().String())
	}
	return out, nil
}

// CreateApiKey implements authapi.StrictServerInterface.
func (s *Service) CreateApiKey(ctx context.Context, req authapi.CreateApiKeyRequestObject) (authapi.CreateApiKeyResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	ownerID := p.Subject
	if b.OwnerId != nil && b.OwnerId.String() != p.Subject {
		if !p.Has(policy.RoleAdmin) {
			return nil, apierror.Forbidden("only an ADMIN creates API keys for another user")
		}
		ownerID = b.OwnerId.String()
	}
	if err := checkDisplayNameField("name", b.Name); err != nil {
		return nil, err
	}
	owner, err := s.store.userByID(ctx, s.store.pool, ownerID)
	if errors.Is(err, errNotFound) {
		return nil, apierror.NotFound("no user with this owner_id")
	}
	if err != nil {
		return nil, err
	}
	if owner.Disabled {
		f := apierror.FieldError{Field: "owner_id", Message: "the account is disabled", Code: "disabled"}
		return nil, apierror.Validation("owner_id: "+f.Message, f)
	}
	scopes := make([]string, 0, len(b.Scopes))
	for _, sc := range b.Scopes {
		scopes = append(scopes, string(sc))
	}
	if err := checkKeyScopes(scopes, owner); err != nil {
		return nil, err
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	now := s.now()
	if b.ExpiresAt != nil && !b.ExpiresAt.After(now) {
		f := apierror.FieldError{Field: "expires_at", Message: "must be in the future", Code: "past"}
		return nil, apierror.Validation("expires_at: "+f.Message, f)
	}
	cidrs := []string{}
	if b.AllowedCidrs != nil {
		if cidrs, err = parseCIDRs(*b.AllowedCidrs); err != nil {
			return nil, err
		}
	}
	secret := newKeySecret()
	k := &apiKey{
		ID: newEventID(), OwnerID: owner.ID, Name: b.Name, Prefix: secret[:keyPrefixLen], SecretHash: hashToken(secret),
		Scopes: scopes, AllowedCIDRs: cidrs, CreatedAt: now,
	}
	if b.ExpiresAt != nil {
		t := b.ExpiresAt.UTC().Truncate(time.Millisecond)
		k.ExpiresAt = &t
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.store.insertAPIKey(ctx, s.store.in(tx), k); err != nil {
			return err
		}
		return s.emitKeyCreated(ctx, tx, k, p.Subject)
	})
	if err != nil {
		return nil, err
	}
	loc := "/api/v1/auth/api-keys/" + k.ID
	return authapi.CreateApiKey201JSONResponse{Body: withSecret(apiKeyToAPI(k, now), secret), Headers: authapi.CreateApiKey201ResponseHeaders{Location: &loc, CacheControl: &noStore}}, nil
}

func (s *Service) emitKeyCreated(ctx context.Context, tx *sql.Tx, k *apiKey, by string) error {
	ev := &authevents.APIKeyCreated{
		EventID: newEventID(), OccurredAt: s.now(), AggregateID: k.ID, TraceID: telemetry.TraceID(ctx),
		KeyID: k.ID, OwnerID: k.OwnerID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt,
		CreatedBy: by, Rotated: k.RotatedAt != nil, PreviousValidUntil: k.PreviousValidUntil,
	}
	return outbox.Append(ctx, tx, s.db, ev, nil)
}

// checkDisplayNameField applies the human-text rule to a name field other than display_name.
func checkDisplayNameField(field, name string) error {
	if err := checkDisplayName(&name); err != nil {
		var problem *apierror.Error
		if errors.As(err, &problem) {
			for i := range problem.Errors {
				problem.Errors[i].Field = field
			}
			problem.Detail = strings.Replace(problem.Detail, "display_name", field, 1)
		}
		return err
	}
	return nil
}

// ListApiKeys implements authapi.StrictServerInterface.
func (s *Service) ListApiKeys(ctx context.Context, req authapi.ListApiKeysRequestObject) (authapi.ListApiKeysResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	owner := p.Subject
	if p.Has(policy.RoleAdmin) {
		owner = ""
	}
	if id := req.Params.OwnerId; id != nil {
		if id.String() != p.Subject && !p.Has(policy.RoleAdmin) {
			return nil, apierror.Forbidden("only an ADMIN lists another user's API keys")
		}
		owner = id.String()
	}
	limit := 20
	if req.Params.Limit != nil {
		limit = int(*req.Params.Limit)
	}
	after := ""
	if req.Params.Cursor != nil {
		if after, err = decodeKeyCursor(*req.Params.Cursor); err != nil {
			return nil, apierror.BadRequest("cursor: not a cursor from this list", apierror.FieldError{Field: "query.cursor", Message: "not a cursor from this list", Code: "invalid"})
		}
	}
	keys, err := s.store.listAPIKeys(ctx, owner, after, limit)
	if err != nil {
		return nil, err
	}
	page := authapi.ListApiKeys200JSONResponse{Items: []authapi.ApiKey{}}
	if len(keys) > limit {
		keys = keys[:limit]
		next := encodeKeyCursor(keys[len(keys)-1].ID)
		page.Page.NextCursor, page.Page.HasMore = &next, true
	}
	now := s.now()
	for _, k := range keys {
		page.Items = append(page.Items, apiKeyToAPI(k, now))
	}
	return page, nil
}

// GetApiKey implements authapi.StrictServerInterface.
func (s *Service) GetApiKey(ctx context.Context, req authapi.GetApiKeyRequestObject) (authapi.GetApiKeyResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(ctx, s.store.pool, p, req.ApiKeyId)
	if err != nil {
		return nil, err
	}
	return authapi.GetApiKey200JSONResponse(apiKeyToAPI(k, s.now())), nil
}

// RevokeApiKey implements authapi.StrictServerInterface.
func (s *Service) RevokeApiKey(ctx context.Context, req authapi.RevokeApiKeyRequestObject) (authapi.RevokeApiKeyResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		k, err := s.keyFor(ctx, s.store.in(tx), p, req.ApiKeyId)
		if err != nil {
			return err
		}
		if err := s.store.deleteAPIKey(ctx, s.store.in(tx), k.ID); err != nil {
			return err
		}
		now, by := s.now(), p.Subject
		ev := &authevents.APIKeyRevoked{EventID: newEventID(), OccurredAt: now, AggregateID: k.ID, TraceID: telemetry.TraceID(ctx),
			KeyID: k.ID, OwnerID: k.OwnerID, RevokedAt: now, RevokedBy: &by}
		return outbox.Append(ctx, tx, s.db, ev, nil)
	})
	if err != nil {
		return nil, err
	}
	return authapi.RevokeApiKey204Response{}, nil
}

// RotateApiKey implements authapi.StrictServerInterface.
func (s *Service) RotateApiKey(ctx context.Context, req authapi.RotateApiKeyRequestObject) (authapi.RotateApiKeyResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	grace := defaultRotationGrace
	if req.Body != nil && req.Body.GraceSeconds != nil {
		grace = time.Duration(*req.Body.GraceSeconds) * time.Second
	}
	secret := newKeySecret()
	now := s.now()
	var k *apiKey
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if k, err = s.keyFor(ctx, s.store.in(tx), p, req.ApiKeyId); err != nil {
			return err
		}
		k.PreviousHash, k.PreviousValidUntil = "", nil
		if grace > 0 {
			until := now.Add(grace).Truncate(time.Millisecond)
			k.PreviousHash, k.PreviousValidUntil = k.SecretHash, &until
		}
		rotated := now.Truncate(time.Millisecond)
		k.Prefix, k.SecretHash, k.RotatedAt = secret[:keyPrefixLen], hashToken(secret), &rotated
		if err := s.store.rotateAPIKey(ctx, s.store.in(tx), k); err != nil {
			return err
		}
		if grace == 0 { // the previous secret ends now, everywhere
			ev := &authevents.APIKeyRevoked{EventID: newEventID(), OccurredAt: now, AggregateID: k.ID, TraceID: telemetry.TraceID(ctx),
				KeyID: k.ID, OwnerID: k.OwnerID, RevokedAt: now, RevokedBy: &p.Subject}
			if err := outbox.Append(ctx, tx, s.db, ev, nil); err != nil {
				return err
			}
		}
		return s.emitKeyCreated(ctx, tx, k, p.Subject)
	})
	if err != nil {
		return nil, err
	}
	return authapi.RotateApiKey200JSONResponse{Body: withSecret(apiKeyToAPI(k, now), secret), Headers: authapi.RotateApiKey200ResponseHeaders{CacheControl: &noStore}}, nil
}

// ExchangeApiKey implements authapi.StrictServerInterface.
func (s *Service) ExchangeApiKey(ctx context.Context, req authapi.ExchangeApiKeyRequestObject) (authapi.ExchangeApiKeyResponseObject, error) {
	token, scopes, ttl, err := s.exchange(ctx, req.Body.ApiKey, httpserver.ClientFrom(ctx))
	if errors.Is(err, authn.ErrKeyInvalid) {
		return nil, apierror.Unauthorized("the API key is not valid: unknown, expired, revoked, or not allowed from this address")
	}
	if err != nil {
		return nil, err
	}
	return authapi.ExchangeApiKey200JSONResponse{
		Body:    authapi.ApiKeyToken{AccessToken: token, TokenType: "Bearer", ExpiresIn: int32(max(ttl/time.Second, 1)), Scope: strings.Join(scopes, " ")},
		Headers: authapi.ExchangeApiKey200ResponseHeaders{CacheControl: &noStore},
	}, nil
}

// ExchangeAPIKey implements authn.KeyExchanger: the verifiers of a process that runs the auth
// service exchange keys here, without HTTP.
func (s *Service) ExchangeAPIKey(ctx context.Context, key, client string) (string, error) {
	token, _, _, err := s.exchange(ctx, key, client)
	return token, err
}

// exchange checks key (current or previous secret within its grace, not expired, its owner
// enabled, client within its ranges), records its use, and signs a token for it: the owner as
// subject with the owner's roles, the key's scopes that the roles still grant, and key_id.
func (s *Service) exchange(ctx context.Context, key, client string) (string, []string, time.Duration, error) {
	if !strings.HasPrefix(key, authn.KeyPrefix) {
		return "", nil, 0, authn.ErrKeyInvalid
	}
	hash := hashToken(key)
	k, err := s.store.apiKeyByHash(ctx, s.store.pool, hash)
	if errors.Is(err, errNotFound) {
		return "", nil, 0, authn.ErrKeyInvalid
	}
	if err != nil {
		return "", nil, 0, err
	}
	now := s.now()
	exp := now.Add(KeyTokenTTL)
	if k.ExpiresAt != nil {
		exp = minTime(exp, *k.ExpiresAt)
	}
	if hash != k.SecretHash { // the previous secret, within its grace
		if k.PreviousValidUntil == nil {
			return "", nil, 0, authn.ErrKeyInvalid
		}
		exp = minTime(exp, *k.PreviousValidUntil)
	}
	if !exp.After(now) || !allowedFrom(k.AllowedCIDRs, client) {
		return "", nil, 0, authn.ErrKeyInvalid
	}
	owner, err := s.store.userByID(ctx, s.store.pool, k.OwnerID)
	if errors.Is(err, errNotFound) || (err == nil && owner.Disabled) {
		return "", nil, 0, authn.ErrKeyInvalid
	}
	if err != nil {
		return "", nil, 0, err
	}
	held := policy.ScopesOf(owner.Roles)
	scopes := []string{}
	for _, sc := range k.Scopes {
		if slices.Contains(held, sc) {
			scopes = append(scopes, sc)
		}
	}
	signer, err := s.keys.signer(ctx)
	if err != nil {
		return "", nil, 0, err
	}
	claims := authn.Claims{Roles: owner.Roles, Scope: authn.ScopeClaim(scopes), KeyID: k.ID, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: s.cfg.Issuer, Audience: jwt.ClaimStrings{s.cfg.Audience}, Subject: owner.ID, ID: newEventID(),
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
	}}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = signer.Kid
	signed, err := tok.SignedString(ed25519.NewKeyFromSeed(signer.Seed))
	if err != nil {
		return "", nil, 0, err
	}
	// Verifiers ask again every authn.KeyRecheck: the last use is written when it moves on by
	// lastUseGranularity or comes from another address, not at every exchange.
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= lastUseGranularity || k.LastUsedAddress != client {
		if err := s.store.touchAPIKey(ctx, s.store.pool, k.ID, now, client); err != nil {
			return "", nil, 0, err
		}
	}
	return signed, scopes, exp.Sub(now), nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// allowedFrom reports whether client is within cidrs (any client when there are none).
func allowedFrom(cidrs []string, client string) bool {
	if len(cidrs) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(client)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, c := range cidrs {
		if pfx, err := netip.ParsePrefix(c); err == nil && pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// syncRoleScopes compares the scopes each role grants now (policy.RoleScopes) with those stored
// when the service last started; for a role that lost scopes it publishes role.scopes_reduced,
// which makes every verifier refuse the role's tokens issued so far (they carry the old scopes).
func (s *Service) syncRoleScopes(ctx context.Context) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		stored, err := s.store.roleScopes(ctx, s.store.in(tx))
		if err != nil {
			return err
		}
		roles := make([]string, 0, len(policy.RoleScopes))
		for r := range policy.RoleScopes {
			roles = append(roles, r)
		}
		slices.Sort(roles)
		for _, role := range roles {
			now := policy.RoleScopes[role]
			old, known := stored[role]
			if known && slices.Equal(old, now) {
				continue
			}
			var removed []string
			for _, sc := range old {
				if !slices.Contains(now, sc) {
					removed = append(removed, sc)
				}
			}
			if len(removed) > 0 {
				at := s.now()
				ev := &authevents.RoleScopesReduced{EventID: newEventID(), OccurredAt: at, AggregateID: role, TraceID: telemetry.TraceID(ctx),
					Role: role, RemovedScopes: removed, RevokedAt: at}
				if err := outbox.Append(ctx, tx, s.db, ev, nil); err != nil {
					return err
				}
				s.log.Warn("a role grants fewer scopes than before; its tokens issued so far are revoked", "role", role, "removed", removed)
			}
			if err := s.store.putRoleScopes(ctx, s.store.in(tx), role, now); err != nil {
				return err
			}
		}
		return nil
	})
}

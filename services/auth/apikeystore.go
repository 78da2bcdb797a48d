package auth

import (
	"context"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/ent/authdb"
	"github.com/mediamesh/mediamesh/ent/authdb/apikey"
	"github.com/mediamesh/mediamesh/ent/authdb/predicate"
	"github.com/mediamesh/mediamesh/ent/authdb/rolescope"
)

// apiKey is an API key as the service works with it. The secret is never stored, only its
// SHA-256 (SecretHash), and after a rotation the previous secret's until PreviousValidUntil.
type apiKey struct {
	ID                 string
	OwnerID            string
	Name               string
	Prefix             string
	SecretHash         string
	PreviousHash       string // empty: none
	PreviousValidUntil *time.Time
	Scopes             []string
	AllowedCIDRs       []string
	ExpiresAt          *time.Time
	CreatedAt          time.Time
	RotatedAt          *time.Time
	LastUsedAt         *time.Time
	LastUsedAddress    string
}

// nullString is s, or nil (NULL) when empty.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func splitList(s, sep string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, sep)
}

func apikeyOwner(id string) predicate.ApiKey { return apikey.OwnerID(id) }

func fromAPIKeyRow(r *authdb.ApiKey) *apiKey {
	return &apiKey{
		ID: r.ID, OwnerID: r.OwnerID, Name: r.Name, Prefix: r.Prefix, SecretHash: r.SecretHash,
		PreviousHash: deref(r.PreviousHash), PreviousValidUntil: fromNullMS(r.PreviousValidUntil),
		Scopes: splitList(r.Scopes, " "), AllowedCIDRs: splitList(r.AllowedCidrs, ","),
		ExpiresAt: fromNullMS(r.ExpiresAt), CreatedAt: fromMS(r.CreatedAt), RotatedAt: fromNullMS(r.RotatedAt),
		LastUsedAt: fromNullMS(r.LastUsedAt), LastUsedAddress: deref(r.LastUsedAddress),
	}
}

func (s *store) insertAPIKey(ctx context.Context, c *authdb.Client, k *apiKey) error {
	return c.ApiKey.Create().
		SetID(k.ID).SetOwnerID(k.OwnerID).SetName(k.Name).SetPrefix(k.Prefix).SetSecretHash(k.SecretHash).
		SetNillablePreviousHash(nullString(k.PreviousHash)).SetNillablePreviousValidUntil(nullMS(k.PreviousValidUntil)).
		SetScopes(strings.Join(k.Scopes, " ")).SetAllowedCidrs(strings.Join(k.AllowedCIDRs, ",")).
		SetNillableExpiresAt(nullMS(k.ExpiresAt)).SetCreatedAt(ms(k.CreatedAt)).SetNillableRotatedAt(nullMS(k.RotatedAt)).
		SetNillableLastUsedAt(nullMS(k.LastUsedAt)).SetNillableLastUsedAddress(nullString(k.LastUsedAddress)).
		Exec(ctx)
}

func (s *store) apiKeyByID(ctx context.Context, c *authdb.Client, id string) (*apiKey, error) {
	r, err := c.ApiKey.Get(ctx, id)
	if err != nil {
		return nil, notFound(err)
	}
	return fromAPIKeyRow(r), nil
}

// apiKeyByHash finds the key whose current or previous secret has hash.
func (s *store) apiKeyByHash(ctx context.Context, c *authdb.Client, hash string) (*apiKey, error) {
	r, err := c.ApiKey.Query().Where(apikey.Or(apikey.SecretHash(hash), apikey.PreviousHash(hash))).Only(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return fromAPIKeyRow(r), nil
}

// rotateAPIKey stores k's new secret and what is left of the previous one.
func (s *store) rotateAPIKey(ctx context.Context, c *authdb.Client, k *apiKey) error {
	upd := c.ApiKey.Update().Where(apikey.ID(k.ID)).
		SetPrefix(k.Prefix).SetSecretHash(k.SecretHash)
	if k.PreviousHash == "" {
		upd.ClearPreviousHash()
	} else {
		upd.SetPreviousHash(k.PreviousHash)
	}
	if k.PreviousValidUntil == nil {
		upd.ClearPreviousValidUntil()
	} else {
		upd.SetPreviousValidUntil(ms(*k.PreviousValidUntil))
	}
	if k.RotatedAt == nil {
		upd.ClearRotatedAt()
	} else {
		upd.SetRotatedAt(ms(*k.RotatedAt))
	}
	n, err := upd.Save(ctx)
	if err != nil {
		return err
	}
	if n != 1 {
		return errNotFound
	}
	return nil
}

func (s *store) deleteAPIKey(ctx context.Context, c *authdb.Client, id string) error {
	n, err := c.ApiKey.Delete().Where(apikey.ID(id)).Exec(ctx)
	if err != nil {
		return err
	}
	if n != 1 {
		return errNotFound
	}
	return nil
}

// touchAPIKey records a use of key id.
func (s *store) touchAPIKey(ctx context.Context, c *authdb.Client, id string, at time.Time, addr string) error {
	upd := c.ApiKey.Update().Where(apikey.ID(id)).SetLastUsedAt(ms(at))
	if addr == "" {
		upd.ClearLastUsedAddress()
	} else {
		upd.SetLastUsedAddress(addr)
	}
	return upd.Exec(ctx)
}

// listAPIKeys returns up to limit+1 keys in id order after the id after, of owner when given.
func (s *store) listAPIKeys(ctx context.Context, owner, after string, limit int) ([]*apiKey, error) {
	query := s.pool.ApiKey.Query()
	if owner != "" {
		query.Where(apikey.OwnerID(owner))
	}
	if after != "" {
		query.Where(apikey.IDGT(after))
	}
	rows, err := query.Order(apikey.ByID()).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*apiKey, len(rows))
	for i, r := range rows {
		out[i] = fromAPIKeyRow(r)
	}
	return out, nil
}

// roleScopes returns the scopes each role granted when they were last stored.
func (s *store) roleScopes(ctx context.Context, c *authdb.Client) (map[string][]string, error) {
	rows, err := c.RoleScope.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(rows))
	for _, r := range rows {
		out[r.ID] = splitList(r.Scopes, " ")
	}
	return out, nil
}

func (s *store) putRoleScopes(ctx context.Context, c *authdb.Client, role string, scopes []string) error {
	if _, err := c.RoleScope.Delete().Where(rolescope.ID(role)).Exec(ctx); err != nil {
		return err
	}
	return c.RoleScope.Create().SetID(role).SetScopes(strings.Join(scopes, " ")).Exec(ctx)
}

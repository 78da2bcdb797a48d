package auth

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// apiKey is a row of api_keys. The secret is never stored, only its SHA-256 (SecretHash), and
// after a rotation the previous secret's until PreviousValidUntil.
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

const apiKeyColumns = `id, owner_id, name, prefix, secret_hash, previous_hash, previous_valid_until, scopes, allowed_cidrs, expires_at, created_at, rotated_at, last_used_at, last_used_address`

func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ms(*t)
}

func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func splitList(s, sep string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, sep)
}

func scanAPIKey(row interface{ Scan(...any) error }) (*apiKey, error) {
	var k apiKey
	var prevHash, lastAddr sql.NullString
	var prevUntil, expires, rotated, lastUsed sql.NullInt64
	var scopes, cidrs string
	var created int64
	if err := row.Scan(&k.ID, &k.OwnerID, &k.Name, &k.Prefix, &k.SecretHash, &prevHash, &prevUntil, &scopes, &cidrs, &expires, &created, &rotated, &lastUsed, &lastAddr); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errNotFound
		}
		return nil, err
	}
	k.PreviousHash, k.LastUsedAddress = prevHash.String, lastAddr.String
	k.PreviousValidUntil, k.ExpiresAt, k.RotatedAt, k.LastUsedAt = fromNullMS(prevUntil), fromNullMS(expires), fromNullMS(rotated), fromNullMS(lastUsed)
	k.Scopes, k.AllowedCIDRs = splitList(scopes, " "), splitList(cidrs, ",")
	k.CreatedAt = fromMS(created)
	return &k, nil
}

func (s *store) insertAPIKey(ctx context.Context, q querier, k *apiKey) error {
	_, err := q.ExecContext(ctx, s.db.Rebind(`INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		k.ID, k.OwnerID, k.Name, k.Prefix, k.SecretHash, nullString(k.PreviousHash), nullMS(k.PreviousValidUntil),
		strings.Join(k.Scopes, " "), strings.Join(k.AllowedCIDRs, ","), nullMS(k.ExpiresAt), ms(k.CreatedAt), nullMS(k.RotatedAt), nullMS(k.LastUsedAt), nullString(k.LastUsedAddress))
	return err
}

func (s *store) apiKeyByID(ctx context.Context, q querier, id string) (*apiKey, error) {
	return scanAPIKey(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`), id))
}

// apiKeyByHash finds the key whose current or previous secret has hash.
func (s *store) apiKeyByHash(ctx context.Context, q querier, hash string) (*apiKey, error) {
	return scanAPIKey(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+apiKeyColumns+` FROM api_keys WHERE secret_hash = ? OR previous_hash = ?`), hash, hash))
}

// rotateAPIKey stores k's new secret and what is left of the previous one.
func (s *store) rotateAPIKey(ctx context.Context, q querier, k *apiKey) error {
	res, err := q.ExecContext(ctx, s.db.Rebind(`UPDATE api_keys SET prefix = ?, secret_hash = ?, previous_hash = ?, previous_valid_until = ?, rotated_at = ? WHERE id = ?`),
		k.Prefix, k.SecretHash, nullString(k.PreviousHash), nullMS(k.PreviousValidUntil), nullMS(k.RotatedAt), k.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errNotFound
	}
	return nil
}

func (s *store) deleteAPIKey(ctx context.Context, q querier, id string) error {
	res, err := q.ExecContext(ctx, s.db.Rebind(`DELETE FROM api_keys WHERE id = ?`), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errNotFound
	}
	return nil
}

// touchAPIKey records a use of key id.
func (s *store) touchAPIKey(ctx context.Context, q querier, id string, at time.Time, addr string) error {
	_, err := q.ExecContext(ctx, s.db.Rebind(`UPDATE api_keys SET last_used_at = ?, last_used_address = ? WHERE id = ?`), ms(at), nullString(addr), id)
	return err
}

// listAPIKeys returns up to limit+1 keys in id order after the id after, of owner when given.
func (s *store) listAPIKeys(ctx context.Context, owner, after string, limit int) ([]*apiKey, error) {
	where, args := []string{"1 = 1"}, []any{}
	if owner != "" {
		where, args = append(where, "owner_id = ?"), append(args, owner)
	}
	if after != "" {
		where, args = append(where, "id > ?"), append(args, after)
	}
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+apiKeyColumns+` FROM api_keys WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*apiKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// roleScopes returns the scopes each role granted when they were last stored.
func (s *store) roleScopes(ctx context.Context, q querier) (map[string][]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT role, scopes FROM role_scopes`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var role, scopes string
		if err := rows.Scan(&role, &scopes); err != nil {
			return nil, err
		}
		out[role] = splitList(scopes, " ")
	}
	return out, rows.Err()
}

func (s *store) putRoleScopes(ctx context.Context, q querier, role string, scopes []string) error {
	if _, err := q.ExecContext(ctx, s.db.Rebind(`DELETE FROM role_scopes WHERE role = ?`), role); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, s.db.Rebind(`INSERT INTO role_scopes (role, scopes) VALUES (?, ?)`), role, strings.Join(scopes, " "))
	return err
}

// Package auth is the auth service: users, sessions (login, refresh, logout), roles and the JWKS the
// platform verifies tokens with. Access tokens are short-lived EdDSA JWTs; refresh tokens are opaque,
// stored hashed, rotate on every use, and reusing a spent one revokes its whole family.
package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/ent/authdb"
	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/etag"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// Config configures the auth service.
type Config struct {
	Issuer          string
	Audience        string
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	KeyRotation     time.Duration
	SignupEnabled   bool
	AdminEmail      string // the first ADMIN, created at first start
	AdminPassword   string // empty: a one-time password is generated and logged once
	HashConcurrency int

	// AdminPasswordFile keeps a generated one-time password (mode 0600) until it is changed, and
	// every start logs it again meanwhile; empty: logged once only.
	AdminPasswordFile string

	// LoginLimit bounds the login attempts of one account from one client address, and refreshes
	// of one account; an account's logins from every address together get loginCeiling times it.
	LoginLimit ratelimit.Limit
	// ServiceAccounts are the accounts other services log in with (the ingest service writes drafts
	// through the CMS as one). Each is created or brought in line (password, roles, enabled) at start.
	ServiceAccounts []ServiceAccount
	// OIDC are the OpenID Connect providers people may sign in with; none: sign-in is off.
	OIDC []OIDCProvider
}

// ServiceAccount is an account a service logs in with.
type ServiceAccount struct {
	Email, Password, DisplayName string
	Roles                        []string
}

// limiter is what the service needs of a rate limiter.
type limiter interface {
	Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error)
}

// Deps are the service's dependencies.
type Deps struct {
	DB      *database.DB // migrated: Migrations and the outbox's
	Limiter limiter
	Log     *slog.Logger
	Now     func() time.Time // nil: time.Now
}

// Service implements authapi.StrictServerInterface.
type Service struct {
	cfg     Config
	db      *database.DB
	store   *store
	keys    *keyring
	hash    *hasher
	limiter limiter
	log     *slog.Logger
	now     func() time.Time

	oidc     oidcClients
	oidcHTTP *http.Client // reaches the OpenID Connect providers
}

var _ authapi.StrictServerInterface = (*Service)(nil)

// New makes sure a signing key and the first ADMIN exist, and returns
// the service.
func New(ctx context.Context, cfg Config, d Deps) (*Service, error) {
	if cfg.AccessTTL <= 0 || cfg.RefreshTTL <= 0 || cfg.KeyRotation <= 0 {
		return nil, errors.New("auth: token lifetimes and key rotation must be positive")
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	st := newStore(d.DB)
	s := &Service{
		cfg: cfg, db: d.DB, store: st, limiter: d.Limiter, log: d.Log, now: now,
		keys:     &keyring{store: st, rotation: cfg.KeyRotation, overlap: cfg.AccessTTL + time.Minute, now: now},
		hash:     newHasher(cfg.HashConcurrency),
		oidcHTTP: &http.Client{Timeout: 10 * time.Second},
	}
	if _, err := s.keys.signer(ctx); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if err := s.bootstrapAdmin(ctx); err != nil {
		return nil, fmt.Errorf("auth: first admin: %w", err)
	}
	if err := s.syncRoleScopes(ctx); err != nil {
		return nil, fmt.Errorf("auth: role scopes: %w", err)
	}
	for _, a := range cfg.ServiceAccounts {
		if err := s.ensureServiceAccount(ctx, a); err != nil {
			return nil, fmt.Errorf("auth: service account %s: %w", a.Email, err)
		}
	}
	return s, nil
}

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, authapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		authapi.RegisterHandlersWithOptions(e, authapi.NewStrictHandler(s, nil), authapi.RegisterHandlersOptions{OperationMiddlewares: mws})
	})
}

// PublicKeys returns the published verification keys; processes that run auth in process verify
// tokens with it instead of fetching the JWKS over HTTP.
func (s *Service) PublicKeys(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	return s.keys.publicKeys(ctx)
}

func (s *Service) bootstrapAdmin(ctx context.Context) error {
	n, err := s.store.enabledAdmins(ctx, s.store.pool)
	if err != nil {
		return err
	}
	if n > 0 {
		return s.remindOneTimePassword(ctx)
	}
	email := strings.ToLower(strings.TrimSpace(s.cfg.AdminEmail))
	if email == "" {
		return errors.New("no ADMIN exists and auth.admin_email is empty")
	}
	password, generated := s.cfg.AdminPassword, false
	if password == "" {
		password, generated = randomToken(18), true
	}
	u, err := s.newUser(ctx, email, "Administrator", password, []string{authevents.RoleAdmin}, "en")
	if err != nil {
		return err
	}
	u.PasswordChangeRequired = generated
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if existing, err := s.store.userByEmail(ctx, s.store.in(tx), email); err == nil {
			// The account exists without ADMIN (or disabled): restore it as the first admin.
			existing.Roles, existing.Disabled, existing.PasswordHash = []string{authevents.RoleAdmin}, false, u.PasswordHash
			existing.PasswordChangeRequired = generated
			existing.Version++
			existing.UpdatedAt = s.now()
			u = existing
			return s.store.updateUser(ctx, s.store.in(tx), existing)
		}
		if err := s.store.insertUser(ctx, s.store.in(tx), u); err != nil {
			return err
		}
		return s.emitRegistered(ctx, tx, u, authevents.RegistrationSourceBootstrap)
	})
	if err != nil {
		return err
	}
	if generated {
		// Kept (when AdminPasswordFile is set) until it is changed, and logged at every start meanwhile.
		if err := s.keepOneTimePassword(password); err != nil {
			return err
		}
		s.log.Warn("created the first ADMIN with a one-time password; log in and change it", "email", email, "one_time_password", password)
	} else {
		s.log.Info("created the first ADMIN from configuration", "email", email)
	}
	return nil
}

// ensureServiceAccount creates account a, or sets the password, roles and name of the existing
// account with its email and enables it.
func (s *Service) ensureServiceAccount(ctx context.Context, a ServiceAccount) error {
	email := strings.ToLower(strings.TrimSpace(a.Email))
	if email == "" || len(a.Password) < 12 || len(a.Roles) == 0 {
		return errors.New("a service account needs an email, a password of at least 12 characters and a role")
	}
	u, err := s.newUser(ctx, email, a.DisplayName, a.Password, a.Roles, "en")
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if existing, err := s.store.userByEmail(ctx, s.store.in(tx), email); err == nil {
			existing.Roles, existing.Disabled, existing.PasswordHash, existing.DisplayName = u.Roles, false, u.PasswordHash, u.DisplayName
			existing.Version++
			existing.UpdatedAt = s.now()
			return s.store.updateUser(ctx, s.store.in(tx), existing)
		}
		if err := s.store.insertUser(ctx, s.store.in(tx), u); err != nil {
			return err
		}
		return s.emitRegistered(ctx, tx, u, authevents.RegistrationSourceBootstrap)
	})
}

func (s *Service) newUser(ctx context.Context, email, name, password string, roles []string, locale string) (*user, error) {
	hash, err := s.hash.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := s.now()
	roles = slices.Clone(roles)
	slices.Sort(roles)
	roles = slices.Compact(roles)
	if locale == "" {
		locale = "en"
	}
	return &user{ID: id.String(), Email: strings.ToLower(email), DisplayName: name, PasswordHash: hash, Roles: roles, Locale: locale, Version: 1, CreatedAt: now, UpdatedAt: now}, nil
}

func (s *Service) emitRegistered(ctx context.Context, tx *sql.Tx, u *user, source string) error {
	ev := &authevents.UserRegistered{EventID: newEventID(), OccurredAt: s.now(), AggregateID: u.ID, TraceID: telemetry.TraceID(ctx), UserID: u.ID, Email: u.Email, Roles: u.Roles, Source: source}
	return outbox.Append(ctx, tx, s.db, ev, nil)
}

func newEventID() string { return uuid.Must(uuid.NewV7()).String() }

// randomToken returns n random bytes, base64url encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// userETag is the entity tag of the user's current version.
func userETag(u *user) *string {
	e := etag.Version(u.Version)
	return &e
}

func toAPI(u *user) authapi.User {
	roles := make([]authapi.Role, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = authapi.Role(r)
	}
	return authapi.User{
		Id: uuid.MustParse(u.ID), Email: authapi.Email(u.Email), DisplayName: u.DisplayName, Roles: roles, Disabled: u.Disabled,
		Locale: u.Locale, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt,
		PasswordChangeRequired: &u.PasswordChangeRequired,
	}
}

func rolesOf(in []authapi.Role) []string {
	out := make([]string, 0, len(in))
	for _, r := range in {
		out = append(out, string(r))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkIfMatch compares an If-Match header (*, or a list of tags, weak ones by their opaque part)
// with the user's version: 412 when none matches.
func checkIfMatch(ifMatch *string, u *user) error {
	if ifMatch == nil || etag.Match(*ifMatch, *userETag(u)) {
		return nil
	}
	return apierror.PreconditionFailed(fmt.Sprintf("the user is at version %d", u.Version))
}

// principal returns the caller; the handler middleware has authenticated it already.
func principal(ctx context.Context) (*authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return nil, apierror.Unauthorized("this operation needs a bearer token")
	}
	return p, nil
}

// limit applies the per-account limit on login and refresh.
func (s *Service) limit(ctx context.Context, key string) error {
	return s.limitAt(ctx, key, s.cfg.LoginLimit)
}

// loginCeiling is how many times the per-address login limit an account gets from all addresses
// together: an attacker hammering an account from many addresses is stopped, and the owner, from
// an address of their own, still gets in while the attacker is held by the per-address limit.
const loginCeiling = 10

// limitLogin applies the login limits of the account email: per client address, and the ceiling.
func (s *Service) limitLogin(ctx context.Context, email string) error {
	if err := s.limitAt(ctx, "login:"+email+":from:"+httpserver.ClientFrom(ctx), s.cfg.LoginLimit); err != nil {
		return err
	}
	ceiling := s.cfg.LoginLimit
	ceiling.Rate, ceiling.Burst = ceiling.Rate*loginCeiling, (ceiling.Burst+1)*loginCeiling-1
	return s.limitAt(ctx, "login:"+email, ceiling)
}

func (s *Service) limitAt(ctx context.Context, key string, l ratelimit.Limit) error {
	if s.limiter == nil || l.Rate == 0 {
		return nil
	}
	res, err := s.limiter.Allow(ctx, "auth:"+key, l)
	if err != nil {
		return err
	}
	if !res.Allowed {
		return apierror.TooManyRequests(res.RetryAfter).WithDetail("too many attempts for this account; retry later")
	}
	return nil
}

// signIn records a sign-in of u (a password login or an OpenID Connect one) and issues its token
// pair in a new family, in one transaction.
func (s *Service) signIn(ctx context.Context, u *user) (authapi.TokenPair, error) {
	key, err := s.keys.signer(ctx)
	if err != nil {
		return authapi.TokenPair{}, err
	}
	var pair authapi.TokenPair
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.store.touchLogin(ctx, s.store.in(tx), u.ID, s.now()); err != nil {
			return err
		}
		pair, err = s.issue(ctx, s.store.in(tx), key, u, "")
		return err
	})
	return pair, err
}

// issue creates an access token signed with key and a refresh token in family (new family when
// empty). The key is looked up before the transaction: SQLite has a single connection, which the
// transaction holds.
func (s *Service) issue(ctx context.Context, c *authdb.Client, key *signingKey, u *user, family string) (authapi.TokenPair, error) {
	now := s.now()
	claims := authn.Claims{Roles: u.Roles, Scope: authn.ScopeClaim(policy.ScopesOf(u.Roles)), RegisteredClaims: jwt.RegisteredClaims{
		Issuer: s.cfg.Issuer, Audience: jwt.ClaimStrings{s.cfg.Audience}, Subject: u.ID, ID: newEventID(),
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTTL)),
	}}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = key.Kid
	access, err := tok.SignedString(ed25519.NewKeyFromSeed(key.Seed))
	if err != nil {
		return authapi.TokenPair{}, err
	}
	if family == "" {
		family = newEventID()
	}
	refresh := randomToken(32)
	if err := s.store.insertRefresh(ctx, c, &refreshToken{Hash: hashToken(refresh), FamilyID: family, UserID: u.ID, IssuedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}); err != nil {
		return authapi.TokenPair{}, err
	}
	return authapi.TokenPair{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int32(s.cfg.AccessTTL / time.Second),
		RefreshToken: refresh, RefreshExpiresIn: int32(s.cfg.RefreshTTL / time.Second),
	}, nil
}

var noStore = "no-store"

// Login implements authapi.StrictServerInterface.
func (s *Service) Login(ctx context.Context, req authapi.LoginRequestObject) (authapi.LoginResponseObject, error) {
	email := strings.ToLower(string(req.Body.Email))
	if err := s.limitLogin(ctx, email); err != nil {
		return nil, err
	}
	password := ""
	if req.Body.Password != nil {
		password = *req.Body.Password
	}
	u, err := s.store.userByEmail(ctx, s.store.pool, email)
	if err != nil && !errors.Is(err, errNotFound) {
		return nil, err
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	ok, err := s.hash.verify(ctx, hash, password) // runs for unknown accounts too, so timing says nothing
	if err != nil {
		return nil, err
	}
	if u == nil || !ok || u.Disabled {
		return nil, apierror.Unauthorized("wrong email or password, or the account is disabled")
	}
	pair, err := s.signIn(ctx, u)
	if err != nil {
		return nil, err
	}
	return authapi.Login200JSONResponse{Body: pair, Headers: authapi.Login200ResponseHeaders{CacheControl: &noStore}}, nil
}

var errInvalidRefresh = apierror.Unauthorized("the refresh token is invalid, expired or revoked")

// RefreshToken implements authapi.StrictServerInterface.
func (s *Service) RefreshToken(ctx context.Context, req authapi.RefreshTokenRequestObject) (authapi.RefreshTokenResponseObject, error) {
	hash := hashToken(req.Body.RefreshToken)
	if err := s.limit(ctx, "refresh:"+hash[:16]); err != nil {
		return nil, err
	}
	key, err := s.keys.signer(ctx)
	if err != nil {
		return nil, err
	}
	var pair authapi.TokenPair
	var reuse *refreshToken
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		t, err := s.store.refreshByHash(ctx, s.store.in(tx), hash)
		if errors.Is(err, errNotFound) {
			return errInvalidRefresh
		}
		if err != nil {
			return err
		}
		now := s.now()
		if t.Used || t.Revoked {
			reuse = t
			return errInvalidRefresh
		}
		if !now.Before(t.ExpiresAt) {
			return errInvalidRefresh
		}
		u, err := s.store.userByID(ctx, s.store.in(tx), t.UserID)
		if err != nil || u.Disabled {
			return errInvalidRefresh
		}
		won, err := s.store.markUsed(ctx, s.store.in(tx), hash, now)
		if err != nil {
			return err
		}
		if !won { // a concurrent request spent it first: treat as reuse
			reuse = t
			return errInvalidRefresh
		}
		pair, err = s.issue(ctx, s.store.in(tx), key, u, t.FamilyID)
		return err
	})
	if reuse != nil {
		// A spent token came back: someone holds a copy. Revoke every token of the family.
		if rerr := s.store.revokeFamily(ctx, s.store.pool, reuse.FamilyID, s.now()); rerr != nil {
			return nil, rerr
		}
		s.log.Warn("refresh token reuse detected; family revoked", "user_id", reuse.UserID, "family", reuse.FamilyID)
	}
	if err != nil {
		return nil, err
	}
	return authapi.RefreshToken200JSONResponse{Body: pair, Headers: authapi.RefreshToken200ResponseHeaders{CacheControl: &noStore}}, nil
}

// Logout implements authapi.StrictServerInterface.
func (s *Service) Logout(ctx context.Context, req authapi.LogoutRequestObject) (authapi.LogoutResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if req.Body != nil && req.Body.AllSessions != nil && *req.Body.AllSessions {
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			if err := s.store.revokeUser(ctx, s.store.in(tx), p.Subject, now); err != nil {
				return err
			}
			return s.revokeTokens(ctx, tx, p.Subject, authevents.RevocationReasonLogoutAll)
		})
		if err != nil {
			return nil, err
		}
		return authapi.Logout204Response{}, nil
	}
	if req.Body != nil && req.Body.RefreshToken != nil {
		t, err := s.store.refreshByHash(ctx, s.store.pool, hashToken(*req.Body.RefreshToken))
		if err != nil && !errors.Is(err, errNotFound) {
			return nil, err
		}
		// Only the caller's own sessions can be ended; someone else's token is ignored, not revealed.
		if t != nil && t.UserID == p.Subject {
			if err := s.store.revokeFamily(ctx, s.store.pool, t.FamilyID, now); err != nil {
				return nil, err
			}
		}
	}
	return authapi.Logout204Response{}, nil
}

// RegisterUser implements authapi.StrictServerInterface.
func (s *Service) RegisterUser(ctx context.Context, req authapi.RegisterUserRequestObject) (authapi.RegisterUserResponseObject, error) {
	if !s.cfg.SignupEnabled {
		return nil, apierror.Forbidden("self sign-up is turned off on this platform")
	}
	if req.Body.Password == nil {
		return nil, apierror.Validation("password: required", apierror.FieldError{Field: "password", Message: "required", Code: "required"})
	}
	if err := checkDisplayName(&req.Body.DisplayName); err != nil {
		return nil, err
	}
	locale := ""
	if req.Body.Locale != nil {
		locale = *req.Body.Locale
	}
	u, err := s.create(ctx, string(req.Body.Email), req.Body.DisplayName, *req.Body.Password, []string{authevents.RoleUser}, locale, authevents.RegistrationSourceSignup)
	if err != nil {
		return nil, err
	}
	loc := "/api/v1/auth/me"
	return authapi.RegisterUser201JSONResponse{Body: toAPI(u), Headers: authapi.RegisterUser201ResponseHeaders{ETag: userETag(u), Location: &loc}}, nil
}

func (s *Service) create(ctx context.Context, email, name, password string, roles []string, locale, source string) (*user, error) {
	u, err := s.newUser(ctx, email, name, password, roles, locale)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.store.insertUser(ctx, s.store.in(tx), u); err != nil {
			return err
		}
		return s.emitRegistered(ctx, tx, u, source)
	})
	if errors.Is(err, errEmailTaken) {
		return nil, apierror.Conflict("an account with this email exists")
	}
	return u, err
}

// GetMe implements authapi.StrictServerInterface.
func (s *Service) GetMe(ctx context.Context, _ authapi.GetMeRequestObject) (authapi.GetMeResponseObject, error) {
	u, err := s.me(ctx)
	if err != nil {
		return nil, err
	}
	return authapi.GetMe200JSONResponse{Body: toAPI(u), Headers: authapi.GetMe200ResponseHeaders{ETag: userETag(u)}}, nil
}

// me loads the caller's account: a deleted account's token no longer works, a disabled one is 403.
func (s *Service) me(ctx context.Context) (*user, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.store.userByID(ctx, s.store.pool, p.Subject)
	if errors.Is(err, errNotFound) {
		return nil, apierror.Unauthorized("the account of this token no longer exists")
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, apierror.Forbidden("the account is disabled")
	}
	return u, nil
}

// UpdateMe implements authapi.StrictServerInterface.
func (s *Service) UpdateMe(ctx context.Context, req authapi.UpdateMeRequestObject) (authapi.UpdateMeResponseObject, error) {
	u, err := s.me(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkIfMatch(req.Params.IfMatch, u); err != nil {
		return nil, err
	}
	b := req.Body
	if err := checkDisplayName(b.DisplayName); err != nil {
		return nil, err
	}
	if b.DisplayName != nil {
		u.DisplayName = *b.DisplayName
	}
	if b.Locale != nil {
		u.Locale = *b.Locale
	}
	if b.NewPassword != nil {
		if b.CurrentPassword == nil {
			return nil, apierror.Validation("current_password: required to change the password", apierror.FieldError{Field: "current_password", Message: "required to change the password", Code: "required"})
		}
		ok, err := s.hash.verify(ctx, u.PasswordHash, *b.CurrentPassword)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apierror.Validation("current_password: does not match", apierror.FieldError{Field: "current_password", Message: "does not match", Code: "mismatch"})
		}
		if u.PasswordHash, err = s.hash.hash(ctx, *b.NewPassword); err != nil {
			return nil, err
		}
		u.PasswordChangeRequired = false
	}
	u.Version++
	u.UpdatedAt = s.now()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.store.updateUser(ctx, s.store.in(tx), u); err != nil {
			return err
		}
		if b.NewPassword != nil { // a new password ends every session, and the tokens issued so far
			if err := s.store.revokeUser(ctx, s.store.in(tx), u.ID, s.now()); err != nil {
				return err
			}
			return s.revokeTokens(ctx, tx, u.ID, authevents.RevocationReasonPasswordChanged)
		}
		return nil
	})
	if errors.Is(err, errStale) {
		return nil, apierror.PreconditionFailed("the account changed meanwhile; read it again")
	}
	if err != nil {
		return nil, err
	}
	return authapi.UpdateMe200JSONResponse{Body: toAPI(u), Headers: authapi.UpdateMe200ResponseHeaders{ETag: userETag(u)}}, nil
}

// ListUsers implements authapi.StrictServerInterface.
func (s *Service) ListUsers(ctx context.Context, req authapi.ListUsersRequestObject) (authapi.ListUsersResponseObject, error) {
	f := userFilter{Limit: 20, Disabled: req.Params.Disabled}
	if req.Params.Limit != nil {
		f.Limit = int(*req.Params.Limit)
	}
	if req.Params.Role != nil {
		f.Role = string(*req.Params.Role)
	}
	if req.Params.Q != nil {
		f.Prefix = *req.Params.Q
	}
	if req.Params.Cursor != nil {
		after, err := decodeUserCursor(*req.Params.Cursor)
		if err != nil {
			return nil, apierror.BadRequest("cursor: not a cursor from this list", apierror.FieldError{Field: "query.cursor", Message: "not a cursor from this list", Code: "invalid"})
		}
		f.After = after
	}
	users, err := s.store.listUsers(ctx, f)
	if err != nil {
		return nil, err
	}
	page := authapi.ListUsers200JSONResponse{Items: []authapi.User{}}
	if len(users) > f.Limit {
		users = users[:f.Limit]
		next := encodeUserCursor(users[len(users)-1].ID)
		page.Page.NextCursor, page.Page.HasMore = &next, true
	}
	for _, u := range users {
		page.Items = append(page.Items, toAPI(u))
	}
	return page, nil
}

// CreateUser implements authapi.StrictServerInterface.
func (s *Service) CreateUser(ctx context.Context, req authapi.CreateUserRequestObject) (authapi.CreateUserResponseObject, error) {
	if req.Body.Password == nil {
		return nil, apierror.Validation("password: required", apierror.FieldError{Field: "password", Message: "required", Code: "required"})
	}
	if err := checkDisplayName(&req.Body.DisplayName); err != nil {
		return nil, err
	}
	locale := ""
	if req.Body.Locale != nil {
		locale = *req.Body.Locale
	}
	u, err := s.create(ctx, string(req.Body.Email), req.Body.DisplayName, *req.Body.Password, rolesOf(req.Body.Roles), locale, authevents.RegistrationSourceAdmin)
	if err != nil {
		return nil, err
	}
	loc := "/api/v1/auth/users/" + u.ID
	return authapi.CreateUser201JSONResponse{Body: toAPI(u), Headers: authapi.CreateUser201ResponseHeaders{ETag: userETag(u), Location: &loc}}, nil
}

func (s *Service) userOr404(ctx context.Context, c *authdb.Client, id uuid.UUID) (*user, error) {
	u, err := s.store.userByID(ctx, c, id.String())
	if errors.Is(err, errNotFound) {
		return nil, apierror.NotFound("no user with this id")
	}
	return u, err
}

// GetUser implements authapi.StrictServerInterface.
func (s *Service) GetUser(ctx context.Context, req authapi.GetUserRequestObject) (authapi.GetUserResponseObject, error) {
	u, err := s.userOr404(ctx, s.store.pool, req.UserId)
	if err != nil {
		return nil, err
	}
	return authapi.GetUser200JSONResponse{Body: toAPI(u), Headers: authapi.GetUser200ResponseHeaders{ETag: userETag(u)}}, nil
}

// changeUser loads a user, checks If-Match, applies change and the last-admin rule, and stores it,
// all in one transaction. after runs inside the transaction with the old roles.
func (s *Service) changeUser(ctx context.Context, id uuid.UUID, ifMatch *string, change func(*user) error, after func(tx *sql.Tx, u *user, oldRoles []string) error) (*user, error) {
	var out *user
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		u, err := s.userOr404(ctx, s.store.in(tx), id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, u); err != nil {
			return err
		}
		wasAdmin := slices.Contains(u.Roles, authevents.RoleAdmin) && !u.Disabled
		wasDisabled := u.Disabled
		oldRoles := slices.Clone(u.Roles)
		if err := change(u); err != nil {
			return err
		}
		if wasAdmin && (!slices.Contains(u.Roles, authevents.RoleAdmin) || u.Disabled) {
			if err := s.keepAnAdmin(ctx, tx); err != nil {
				return err
			}
		}
		u.Version++
		u.UpdatedAt = s.now()
		if err := s.store.updateUser(ctx, s.store.in(tx), u); err != nil {
			return err
		}
		if u.Disabled {
			if err := s.store.revokeUser(ctx, s.store.in(tx), u.ID, s.now()); err != nil {
				return err
			}
		}
		switch {
		case u.Disabled && !wasDisabled:
			err = s.revokeTokens(ctx, tx, u.ID, authevents.RevocationReasonDisabled)
		case !slices.Equal(oldRoles, u.Roles):
			err = s.revokeTokens(ctx, tx, u.ID, authevents.RevocationReasonRolesChanged)
		}
		if err != nil {
			return err
		}
		if after != nil {
			if err := after(tx, u, oldRoles); err != nil {
				return err
			}
		}
		out = u
		return nil
	})
	if errors.Is(err, errStale) {
		return nil, apierror.PreconditionFailed("the user changed meanwhile; read it again")
	}
	return out, err
}

// checkDisplayName applies the one rule for human text (internal/humantext, the contract's
// DisplayName: HumanText, not empty) to a display name, when one is given: a name of only invisible or
// space characters, or with a control character, is a 422 naming display_name.
func checkDisplayName(name *string) error {
	if name == nil {
		return nil
	}
	if p := humantext.Required("display_name", *name, humantext.Line); p != nil {
		return apierror.Validation("display_name: "+p.Message, *p)
	}
	return nil
}

// keepAnAdmin refuses a change that would leave no enabled ADMIN.
func (s *Service) keepAnAdmin(ctx context.Context, tx *sql.Tx) error {
	n, err := s.store.enabledAdmins(ctx, s.store.in(tx))
	if err != nil {
		return err
	}
	if n <= 1 {
		return apierror.Conflict("this would leave the platform without an enabled ADMIN")
	}
	return nil
}

// UpdateUser implements authapi.StrictServerInterface.
func (s *Service) UpdateUser(ctx context.Context, req authapi.UpdateUserRequestObject) (authapi.UpdateUserResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkDisplayName(req.Body.DisplayName); err != nil {
		return nil, err
	}
	u, err := s.changeUser(ctx, req.UserId, req.Params.IfMatch, func(u *user) error {
		if req.Body.DisplayName != nil {
			u.DisplayName = *req.Body.DisplayName
		}
		if req.Body.Disabled != nil {
			if *req.Body.Disabled && u.ID == p.Subject {
				return apierror.Conflict("an ADMIN cannot disable their own account")
			}
			u.Disabled = *req.Body.Disabled
		}
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return authapi.UpdateUser200JSONResponse{Body: toAPI(u), Headers: authapi.UpdateUser200ResponseHeaders{ETag: userETag(u)}}, nil
}

// SetUserRoles implements authapi.StrictServerInterface.
func (s *Service) SetUserRoles(ctx context.Context, req authapi.SetUserRolesRequestObject) (authapi.SetUserRolesResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	roles := rolesOf(req.Body.Roles)
	u, err := s.changeUser(ctx, req.UserId, req.Params.IfMatch, func(u *user) error {
		u.Roles = roles
		return nil
	}, func(tx *sql.Tx, u *user, old []string) error {
		if slices.Equal(old, u.Roles) {
			return nil
		}
		by := p.Subject
		ev := &authevents.UserRoleChanged{EventID: newEventID(), OccurredAt: s.now(), AggregateID: u.ID, TraceID: telemetry.TraceID(ctx), UserID: u.ID, OldRoles: old, NewRoles: u.Roles, ChangedBy: &by}
		return outbox.Append(ctx, tx, s.db, ev, nil)
	})
	if err != nil {
		return nil, err
	}
	return authapi.SetUserRoles200JSONResponse{Body: toAPI(u), Headers: authapi.SetUserRoles200ResponseHeaders{ETag: userETag(u)}}, nil
}

// DeleteUser implements authapi.StrictServerInterface.
func (s *Service) DeleteUser(ctx context.Context, req authapi.DeleteUserRequestObject) (authapi.DeleteUserResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if req.UserId.String() == p.Subject {
		return nil, apierror.Conflict("an ADMIN cannot delete their own account")
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		u, err := s.userOr404(ctx, s.store.in(tx), req.UserId)
		if err != nil {
			return err
		}
		if err := checkIfMatch(req.Params.IfMatch, u); err != nil {
			return err
		}
		if slices.Contains(u.Roles, authevents.RoleAdmin) && !u.Disabled {
			if err := s.keepAnAdmin(ctx, tx); err != nil {
				return err
			}
		}
		if err := s.store.deleteUser(ctx, s.store.in(tx), u.ID); err != nil {
			return err
		}
		return s.revokeTokens(ctx, tx, u.ID, authevents.RevocationReasonDeleted)
	})
	if err != nil {
		return nil, err
	}
	return authapi.DeleteUser204Response{}, nil
}

// revokeTokens records in tx, as the user.tokens_revoked event every token verifier applies, that
// the access tokens of user issued so far no longer speak for it.
func (s *Service) revokeTokens(ctx context.Context, tx *sql.Tx, userID, reason string) error {
	now := s.now()
	ev := &authevents.UserTokensRevoked{EventID: newEventID(), OccurredAt: now, AggregateID: userID, TraceID: telemetry.TraceID(ctx),
		UserID: userID, RevokedAt: now, Reason: reason}
	return outbox.Append(ctx, tx, s.db, ev, nil)
}

// GetJwks implements authapi.StrictServerInterface.
func (s *Service) GetJwks(ctx context.Context, _ authapi.GetJwksRequestObject) (authapi.GetJwksResponseObject, error) {
	keys, err := s.keys.published(ctx)
	if err != nil {
		return nil, err
	}
	body := authapi.Jwks{Keys: []authapi.Jwk{}}
	for _, k := range keys {
		j := authn.PublicJWK(k.Kid, ed25519.NewKeyFromSeed(k.Seed).Public().(ed25519.PublicKey))
		body.Keys = append(body.Keys, authapi.Jwk{Kty: authapi.JwkKty(j.Kty), Crv: authapi.JwkCrv(j.Crv), Kid: j.Kid, Use: authapi.JwkUse(j.Use), Alg: authapi.JwkAlg(j.Alg), X: j.X})
	}
	tag := etag.Of(body)
	cc := "public, max-age=300"
	return authapi.GetJwks200JSONResponse{Body: body, Headers: authapi.GetJwks200ResponseHeaders{CacheControl: &cc, ETag: &tag}}, nil
}

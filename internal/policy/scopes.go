package policy

import "slices"

// Scopes: what a token or an API key may do. Each operation with x-roles names the scopes it needs
// in x-scopes; a caller needs one of the roles and every one of the scopes.
const (
	ScopeAccountRead      = "account:read"      // the caller's own account
	ScopeAccountWrite     = "account:write"     // change the own account, log out
	ScopeAPIKeysManage    = "api_keys:manage"   // create, list, rotate and revoke API keys
	ScopeUsersManage      = "users:manage"      // user administration
	ScopeContentRead      = "content:read"      // CMS programs and episodes
	ScopeContentWrite     = "content:write"     // create, change, delete, import content
	ScopeContentPublish   = "content:publish"   // publish, unpublish, archive
	ScopeContentPurge     = "content:purge"     // purge soft-deleted content for good
	ScopeAuditRead        = "audit:read"        // the CMS audit trail
	ScopeMediaRead        = "media:read"        // media assets
	ScopeMediaWrite       = "media:write"       // upload, change, delete assets
	ScopeMetadataRead     = "metadata:read"     // metadata, its versions, categories, languages
	ScopeMetadataWrite    = "metadata:write"    // new metadata versions
	ScopeCategoriesManage = "categories:manage" // the category taxonomy
	ScopeIngestRead       = "ingest:read"       // ingest sources and runs
	ScopeIngestRun        = "ingest:run"        // run a source now
	ScopeIngestManage     = "ingest:manage"     // create, change, delete sources
)

// AllScopes lists every scope, sorted.
var AllScopes = sorted([]string{
	ScopeAccountRead, ScopeAccountWrite, ScopeAPIKeysManage, ScopeUsersManage,
	ScopeContentRead, ScopeContentWrite, ScopeContentPublish, ScopeContentPurge, ScopeAuditRead,
	ScopeMediaRead, ScopeMediaWrite, ScopeMetadataRead, ScopeMetadataWrite, ScopeCategoriesManage,
	ScopeIngestRead, ScopeIngestRun, ScopeIngestManage,
})

// RoleScopes is the one place roles map to scopes. Access tokens carry the scopes of their
// subject's roles as they are here when the token is issued; the auth service publishes a
// revocation of a role's older tokens when a role loses a scope (see the auth service's
// role_scopes table), so the change reaches tokens already issued too. A role listed in an
// operation's x-roles without its x-scopes is refused there (403); the RBAC matrix test holds the
// contracts and this map consistent.
var RoleScopes = map[string][]string{
	RoleAdmin: AllScopes,
	RoleEditor: sorted([]string{
		ScopeAccountRead, ScopeAccountWrite, ScopeAPIKeysManage,
		ScopeContentRead, ScopeContentWrite, ScopeContentPublish,
		ScopeMediaRead, ScopeMediaWrite, ScopeMetadataRead, ScopeMetadataWrite,
		ScopeIngestRead, ScopeIngestRun,
	}),
	RoleUser: sorted([]string{ScopeAccountRead, ScopeAccountWrite, ScopeAPIKeysManage}),
}

// KeyGrantable reports whether an API key may hold scope: api_keys:manage never, so a key cannot
// make keys that outlive its own revocation.
func KeyGrantable(scope string) bool { return KnownScope(scope) && scope != ScopeAPIKeysManage }

// KnownScope reports whether scope is one of AllScopes.
func KnownScope(scope string) bool {
	_, found := slices.BinarySearch(AllScopes, scope)
	return found
}

// ScopesOf returns the scopes that roles grant together, sorted.
func ScopesOf(roles []string) []string {
	var out []string
	for _, r := range roles {
		out = append(out, RoleScopes[r]...)
	}
	return sorted(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

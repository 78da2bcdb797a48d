// Package app is the composition root: it knows every service and gateway, turns --target into
// the set of modules this process runs, wires them together and runs them until the context ends.
package app

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Target and service names.
const (
	TargetAll        = "all"
	ServiceAuth      = "auth"
	ServiceCMS       = "cms"
	ServiceMetadata  = "metadata"
	ServiceMedia     = "media"
	ServiceIngest    = "ingest"
	ServiceDiscovery = "discovery"
	ServiceSearch    = "search"
	GatewayDiscovery = "discovery-gateway"
	GatewayCMS       = "cms-gateway"
	TargetRelay      = "relay" // outbox relays for services that run in other processes
)

// AllGateways lists the gateways.
var AllGateways = []string{GatewayDiscovery, GatewayCMS}

// Plan is what one process runs.
type Plan struct {
	Gateways  []string          // gateways with their listeners
	InProcess []string          // services built in this process
	Listening []string          // in-process services that also listen on their own address
	Remote    map[string]string // services reached over HTTP (by a gateway or a service): name -> base URL
	AuthURL   string            // where to fetch the JWKS when auth is not in this process
	Relays    []string          // services whose outbox this process relays without running them
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Plan resolves the targets. `all` runs every gateway and service in one process with the services
// reached in process; a named service runs with its own listener; a gateway needs each service it
// fronts either in this process or at a configured URL.
func (c *Config) Plan() (*Plan, error) {
	if len(c.Target) == 0 {
		return nil, errors.New("target: no module named; use all or a comma list")
	}
	p := &Plan{Remote: map[string]string{}}
	if contains(c.Target, TargetAll) {
		if len(c.Target) > 1 {
			return nil, fmt.Errorf("target: all runs everything and cannot be combined with %v", c.Target)
		}
		p.Gateways = append(p.Gateways, AllGateways...)
		p.InProcess = append(p.InProcess, AllServices...)
		return p, nil
	}
	var unknown []string
	for _, t := range c.Target {
		switch {
		case contains(AllServices, t):
			if !contains(p.InProcess, t) {
				p.InProcess = append(p.InProcess, t)
				p.Listening = append(p.Listening, t)
			}
		case contains(AllGateways, t):
			if !contains(p.Gateways, t) {
				p.Gateways = append(p.Gateways, t)
			}
		case t == TargetRelay:
			p.Relays = []string{} // filled below, once the in-process services are known
		default:
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		valid := append(append([]string{TargetAll, TargetRelay}, AllServices...), AllGateways...)
		return nil, fmt.Errorf("target: unknown %s; valid targets are %s", strings.Join(unknown, ", "), strings.Join(valid, ", "))
	}
	var missing []string
	// reach records where module `from` reaches service s: in this process, or at its URL.
	reach := func(from, s string) {
		if contains(p.InProcess, s) {
			return
		}
		if url := c.Services.Endpoint(s).URL; url != "" {
			p.Remote[s] = url
			return
		}
		missing = append(missing, fmt.Sprintf("%s needs services.%s.url (or run %s in this process)", from, s, s))
	}
	for _, g := range p.Gateways {
		for _, s := range fronts[g] {
			reach(g, s)
		}
	}
	for _, s := range p.InProcess {
		for _, dep := range calls[s] {
			reach(s, dep)
		}
	}
	if p.Relays != nil {
		for _, s := range AllServices {
			if !contains(p.InProcess, s) && c.Services.Endpoint(s).DatabaseURL != "" {
				p.Relays = append(p.Relays, s)
			}
		}
		if len(p.Relays) == 0 {
			missing = append(missing, "relay needs the services.<name>.database_url of the services whose outboxes it relays")
		}
		if len(c.Kafka.Brokers) == 0 {
			missing = append(missing, "relay needs kafka.brokers to publish to")
		}
	}
	// Every process that serves requests verifies tokens, from the auth service's JWKS; a relay-only
	// process serves none.
	serves := len(p.InProcess) > 0 || len(p.Gateways) > 0
	if serves && !contains(p.InProcess, ServiceAuth) {
		if p.AuthURL = c.Services.Auth.URL; p.AuthURL == "" {
			missing = append(missing, "verifying tokens needs services.auth.url (or run auth in this process)")
		}
	}
	if err := joinMissing(missing); err != nil {
		return nil, err
	}
	return p, nil
}

func joinMissing(missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return errors.New("target: " + strings.Join(missing, "; "))
}

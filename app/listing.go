package app

import (
	"fmt"
	"strings"
)

// ModuleInfo is one module (a service or a gateway) as `mediamesh modules` lists it, from the
// module table.
type ModuleInfo struct {
	Kind     string   // "service" or "gateway"
	Name     string   // its target name
	Addr     string   // its default listen address
	Variable string   // the environment variable of its listen address (MEDIAMESH_SERVICES_AUTH_ADDR, ...)
	Fronts   []string // a gateway's services, in start order
	Calls    []string // the services a service calls
}

// gatewayAddrKeys are the settings of the gateways' listen addresses.
var gatewayAddrKeys = map[string]string{GatewayDiscovery: "gateway.discovery_addr", GatewayCMS: "gateway.cms_addr"}

// Modules lists the services in start order, then the gateways, with their default addresses.
func Modules() []ModuleInfo {
	def := Default()
	byKey := map[string]setting{}
	for _, s := range settings(&def) {
		byKey[s.key] = s
	}
	var out []ModuleInfo
	for _, m := range modules {
		key := "services." + m.name + ".addr"
		out = append(out, ModuleInfo{Kind: "service", Name: m.name, Addr: def.Services.Endpoint(m.name).Addr, Variable: setting{key: key}.env(), Calls: calls[m.name]})
	}
	for _, g := range AllGateways {
		s := byKey[gatewayAddrKeys[g]]
		out = append(out, ModuleInfo{Kind: "gateway", Name: g, Addr: s.String(), Variable: s.env(), Fronts: fronts[g]})
	}
	return out
}

// ModulesText is the output of `mediamesh modules`: one line per module, its kind, name, default
// address, the variable that sets the address, and what it fronts or calls, in start order
// (services first, the first one before any other: the others need it at start). deploy/run-split.sh
// reads it, so a module of the table needs no list of its own there.
func ModulesText() string {
	var b strings.Builder
	b.WriteString("# kind    name               addr    variable                           fronts/calls\n")
	for _, m := range Modules() {
		links := "-"
		if len(m.Fronts) > 0 {
			links = "fronts=" + strings.Join(m.Fronts, ",")
		} else if len(m.Calls) > 0 {
			links = "calls=" + strings.Join(m.Calls, ",")
		}
		fmt.Fprintf(&b, "%-9s %-18s %-7s %-34s %s\n", m.Kind, m.Name, m.Addr, m.Variable, links)
	}
	return b.String()
}

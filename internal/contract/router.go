package contract

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// router finds the operation of a request among the paths of a contract. Literal segments win over
// parameters, so /api/v1/discovery/search beats /api/v1/discovery/{x}.
type router struct {
	doc   *openapi3.T
	paths []*pathTemplate
}

type pathTemplate struct {
	template string
	segs     []string // "{name}" for a parameter
	literals int
	item     *openapi3.PathItem
}

func newRouter(doc *openapi3.T) *router {
	rt := &router{doc: doc}
	for template, item := range doc.Paths.Map() {
		pt := &pathTemplate{template: template, item: item, segs: strings.Split(strings.Trim(template, "/"), "/")}
		for _, s := range pt.segs {
			if !strings.HasPrefix(s, "{") {
				pt.literals++
			}
		}
		rt.paths = append(rt.paths, pt)
	}
	// Most specific first; the template string breaks ties so the order is stable.
	sort.Slice(rt.paths, func(i, j int) bool {
		a, b := rt.paths[i], rt.paths[j]
		if a.literals != b.literals {
			return a.literals > b.literals
		}
		return a.template < b.template
	})
	return rt
}

func (pt *pathTemplate) match(segs []string) (map[string]string, bool) {
	if len(segs) != len(pt.segs) {
		return nil, false
	}
	var params map[string]string
	for i, s := range pt.segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s[1:len(s)-1]] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// find returns the route of r, or the methods the path allows (nil: no such path).
func (rt *router) find(r *http.Request) (*routers.Route, map[string]string, []string) {
	raw := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, nil, nil
		}
		segs[i] = u
	}
	var allow []string
	for _, pt := range rt.paths {
		params, ok := pt.match(segs)
		if !ok {
			continue
		}
		if op := pt.item.GetOperation(r.Method); op != nil {
			return &routers.Route{Spec: rt.doc, Path: pt.template, PathItem: pt.item, Method: r.Method, Operation: op}, params, nil
		}
		for m := range pt.item.Operations() {
			allow = append(allow, m)
		}
	}
	if allow == nil {
		return nil, nil, nil
	}
	sort.Strings(allow)
	return nil, nil, dedupe(allow)
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

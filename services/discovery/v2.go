package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	discoveryv2 "github.com/mediamesh/mediamesh/gen/openapi/v2/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/etag"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/language"
)

// v2 implements major version 2 of the discovery contract (specs/openapi/v2/discovery.yaml) over
// the same read model and the same queries as v1: each operation runs the v1 operation it replaces
// and renders its answer in the v2 shape (a typed language), so the two versions always answer the
// same data, with the same filters, orders, cursors and errors.
type v2 struct{ s *Service }

var _ discoveryv2.StrictServerInterface = v2{}

// handlerV2 serves the v2 operations, each guarded by the policy its contract declares.
func (s *Service) handlerV2(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, discoveryv2.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		discoveryv2.RegisterHandlersWithOptions(e, discoveryv2.NewStrictHandler(v2{s}, nil), discoveryv2.RegisterHandlersOptions{OperationMiddlewares: mws})
	})
}

// byVersion sends the paths under /api/v2/ to v2 and everything else to v1.
func byVersion(v1, v2 http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v2/") {
			v2.ServeHTTP(w, r)
			return
		}
		v1.ServeHTTP(w, r)
	})
}

// ListProgramsV2 implements discoveryv2.StrictServerInterface: listPublicPrograms in the v2 shape.
func (a v2) ListProgramsV2(ctx context.Context, req discoveryv2.ListProgramsV2RequestObject) (discoveryv2.ListProgramsV2ResponseObject, error) {
	p := req.Params
	r, err := a.s.ListPublicPrograms(ctx, discoveryapi.ListPublicProgramsRequestObject{Params: discoveryapi.ListPublicProgramsParams{
		Kind: (*discoveryapi.ProgramKind)(p.Kind), Category: p.Category, Language: p.Language, Tag: p.Tag,
		Sort: (*discoveryapi.ListPublicProgramsParamsSort)(p.Sort), Cursor: p.Cursor, Limit: p.Limit,
	}})
	if err != nil {
		return nil, err
	}
	list, ok := r.(discoveryapi.ListPublicPrograms200JSONResponse)
	if !ok {
		return nil, fmt.Errorf("listPublicPrograms answered %T", r)
	}
	items, err := programsV2(list.Items)
	if err != nil {
		return nil, err
	}
	return discoveryv2.ListProgramsV2200JSONResponse{Items: items, Page: list.Page}, nil
}

// GetProgramV2 implements discoveryv2.StrictServerInterface: getPublicProgram in the v2 shape.
func (a v2) GetProgramV2(ctx context.Context, req discoveryv2.GetProgramV2RequestObject) (discoveryv2.GetProgramV2ResponseObject, error) {
	r, err := a.s.GetPublicProgram(ctx, discoveryapi.GetPublicProgramRequestObject{ProgramId: req.ProgramId})
	if err != nil {
		return nil, err
	}
	one, ok := r.(discoveryapi.GetPublicProgram200JSONResponse)
	if !ok {
		return nil, fmt.Errorf("getPublicProgram answered %T", r)
	}
	items, err := programsV2([]discoveryapi.PublicProgram{one.Body})
	if err != nil {
		return nil, err
	}
	tag := etag.Of(items[0])
	return discoveryv2.GetProgramV2200JSONResponse{Body: items[0], Headers: discoveryv2.GetProgramV2200ResponseHeaders{ETag: &tag}}, nil
}

// ListProgramEpisodesV2 implements discoveryv2.StrictServerInterface: listPublicEpisodes in the v2 shape.
func (a v2) ListProgramEpisodesV2(ctx context.Context, req discoveryv2.ListProgramEpisodesV2RequestObject) (discoveryv2.ListProgramEpisodesV2ResponseObject, error) {
	p := req.Params
	r, err := a.s.ListPublicEpisodes(ctx, discoveryapi.ListPublicEpisodesRequestObject{ProgramId: req.ProgramId, Params: discoveryapi.ListPublicEpisodesParams{
		SeasonNumber: p.SeasonNumber, Sort: (*discoveryapi.ListPublicEpisodesParamsSort)(p.Sort), Cursor: p.Cursor, Limit: p.Limit,
	}})
	if err != nil {
		return nil, err
	}
	list, ok := r.(discoveryapi.ListPublicEpisodes200JSONResponse)
	if !ok {
		return nil, fmt.Errorf("listPublicEpisodes answered %T", r)
	}
	items, err := episodesV2(list.Items)
	if err != nil {
		return nil, err
	}
	return discoveryv2.ListProgramEpisodesV2200JSONResponse{Items: items, Page: list.Page}, nil
}

// GetEpisodeV2 implements discoveryv2.StrictServerInterface: getPublicEpisode in the v2 shape.
func (a v2) GetEpisodeV2(ctx context.Context, req discoveryv2.GetEpisodeV2RequestObject) (discoveryv2.GetEpisodeV2ResponseObject, error) {
	r, err := a.s.GetPublicEpisode(ctx, discoveryapi.GetPublicEpisodeRequestObject{EpisodeId: req.EpisodeId})
	if err != nil {
		return nil, err
	}
	one, ok := r.(discoveryapi.GetPublicEpisode200JSONResponse)
	if !ok {
		return nil, fmt.Errorf("getPublicEpisode answered %T", r)
	}
	items, err := episodesV2([]discoveryapi.PublicEpisode{one.Body})
	if err != nil {
		return nil, err
	}
	tag := etag.Of(items[0])
	return discoveryv2.GetEpisodeV2200JSONResponse{Body: items[0], Headers: discoveryv2.GetEpisodeV2200ResponseHeaders{ETag: &tag}}, nil
}

// ListLatestEpisodesV2 implements discoveryv2.StrictServerInterface: listLatestEpisodes in the v2 shape.
func (a v2) ListLatestEpisodesV2(ctx context.Context, req discoveryv2.ListLatestEpisodesV2RequestObject) (discoveryv2.ListLatestEpisodesV2ResponseObject, error) {
	p := req.Params
	r, err := a.s.ListLatestEpisodes(ctx, discoveryapi.ListLatestEpisodesRequestObject{Params: discoveryapi.ListLatestEpisodesParams{
		Language: p.Language, Kind: (*discoveryapi.ProgramKind)(p.Kind), Category: p.Category, Cursor: p.Cursor, Limit: p.Limit,
	}})
	if err != nil {
		return nil, err
	}
	list, ok := r.(discoveryapi.ListLatestEpisodes200JSONResponse)
	if !ok {
		return nil, fmt.Errorf("listLatestEpisodes answered %T", r)
	}
	items, err := episodesV2(list.Items)
	if err != nil {
		return nil, err
	}
	return discoveryv2.ListLatestEpisodesV2200JSONResponse{Items: items, Page: list.Page}, nil
}

// contentLanguage is the v2 language object of an ISO 639-1 code: its English and native names and
// direction (internal/language, CLDR). The read model holds only codes the metadata service
// accepted, so an unknown one is a fault of the data, not of the request.
func contentLanguage(code string) (discoveryv2.ContentLanguage, error) {
	info, err := language.Lookup(code)
	if err != nil {
		return discoveryv2.ContentLanguage{}, fmt.Errorf("stored language: %w", err)
	}
	return discoveryv2.ContentLanguage{Code: info.Code, Name: info.Name, NativeName: info.NativeName, Direction: discoveryv2.ContentLanguageDirection(info.Direction)}, nil
}

func programsV2(in []discoveryapi.PublicProgram) ([]discoveryv2.Program, error) {
	out := make([]discoveryv2.Program, len(in))
	for i, p := range in {
		lang, err := contentLanguage(p.Language)
		if err != nil {
			return nil, err
		}
		var cat *discoveryv2.CategoryRef
		if p.Category != nil {
			cat = &discoveryv2.CategoryRef{Id: p.Category.Id, Slug: p.Category.Slug, Name: p.Category.Name}
		}
		out[i] = discoveryv2.Program{
			Id: p.Id, Kind: discoveryv2.ProgramKind(p.Kind), Title: p.Title, Slug: p.Slug, Summary: p.Summary, Language: lang,
			Category: cat, Tags: p.Tags, CoverUrl: p.CoverUrl, EpisodeCount: p.EpisodeCount, PublishedAt: p.PublishedAt, UpdatedAt: p.UpdatedAt,
		}
	}
	return out, nil
}

func episodesV2(in []discoveryapi.PublicEpisode) ([]discoveryv2.Episode, error) {
	out := make([]discoveryv2.Episode, len(in))
	for i, e := range in {
		lang, err := contentLanguage(e.Language)
		if err != nil {
			return nil, err
		}
		out[i] = discoveryv2.Episode{
			Id: e.Id, ProgramId: e.ProgramId, ProgramTitle: e.ProgramTitle, SeasonNumber: e.SeasonNumber, EpisodeNumber: e.EpisodeNumber,
			Title: e.Title, Summary: e.Summary, Language: lang, DurationSeconds: e.DurationSeconds, MediaUrl: e.MediaUrl,
			ThumbnailUrl: e.ThumbnailUrl, PublishedAt: e.PublishedAt,
		}
	}
	return out, nil
}

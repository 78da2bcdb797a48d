package metadata

import (
	"context"
	"database/sql"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/ent/metadatadb/category"
	"github.com/mediamesh/mediamesh/ent/metadatadb/contentitem"
	"github.com/mediamesh/mediamesh/ent/metadatadb/predicate"
	"github.com/mediamesh/mediamesh/ent/metadatadb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/cursor"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/etag"
	"github.com/mediamesh/mediamesh/internal/humantext"
)

// toCategory renders a category for the API.
func toCategory(c *metadatadb.Category) metadataapi.Category {
	return metadataapi.Category{
		Id:        c.ID,
		Slug:      c.Slug,
		Names:     metadataapi.LocalizedName{En: c.Names.En, Ar: c.Names.Ar},
		ParentId:  c.ParentID,
		CreatedAt: c.CreatedAt.UTC(),
		UpdatedAt: c.UpdatedAt.UTC(),
	}
}

// checkNames records names that break the human-text rule: blank, or with control characters.
func checkNames(errs *fieldErrors, n metadataapi.LocalizedName) schema.LocalizedName {
	errs.checkText("names.en", n.En, humantext.Line, true)
	if n.Ar != nil {
		errs.checkText("names.ar", *n.Ar, humantext.Line, true)
	}
	return schema.LocalizedName{En: n.En, Ar: n.Ar}
}

// noCategory is the answer for a category id that does not exist.
func noCategory() error { return apierror.NotFound("no category with this id") }

// slugTaken is the answer for a slug that another category has.
func slugTaken(slug string) error {
	e := apierror.Conflict(fmt.Sprintf("a category with slug %q already exists", slug))
	e.Title = "Slug already taken"
	return e
}

// inUse is the answer for deleting a category that is still referred to.
func inUse(detail string) error {
	e := apierror.Conflict(detail)
	e.Type, e.Title = "https://mediamesh.dev/problems/category-in-use", "Category in use"
	return e
}

// bySlug orders categories by slug in byte order on both dialects: PostgreSQL would otherwise
// use the database's collation, which may ignore the hyphens of slugs.
func (s *Service) bySlug() category.OrderOption {
	return func(sel *entsql.Selector) {
		sel.OrderExpr(entsql.Expr(s.slugColumn(sel)))
	}
}

// slugAfter keeps the categories whose slug sorts after slug, in the order of bySlug.
func (s *Service) slugAfter(slug string) predicate.Category {
	return func(sel *entsql.Selector) {
		col := s.slugColumn(sel)
		sel.Where(entsql.P(func(b *entsql.Builder) { b.WriteString(col).WriteString(" > ").Arg(slug) }))
	}
}

// slugColumn is the slug column of sel, with the byte-order collation on PostgreSQL.
func (s *Service) slugColumn(sel *entsql.Selector) string {
	if s.db.Dialect == database.Postgres {
		return sel.C(category.FieldSlug) + ` COLLATE "C"`
	}
	return sel.C(category.FieldSlug)
}

// ListCategories implements metadataapi.StrictServerInterface: categories by slug, optionally
// only the children of one category (parent_id) or only those with (top_level=false) or without
// (top_level=true) a parent.
func (s *Service) ListCategories(ctx context.Context, req metadataapi.ListCategoriesRequestObject) (metadataapi.ListCategoriesResponseObject, error) {
	p := req.Params
	if p.ParentId != nil && p.TopLevel != nil {
		const msg = "cannot be combined with parent_id"
		return nil, apierror.Validation("query.top_level: "+msg, apierror.FieldError{Field: "query.top_level", Message: msg, Code: "exclusive"})
	}
	limit := pageLimit(p.Limit)
	q := s.read.Category.Query()
	switch {
	case p.ParentId != nil:
		q = q.Where(category.ParentIDEQ(*p.ParentId))
	case p.TopLevel != nil && *p.TopLevel:
		q = q.Where(category.ParentIDIsNil())
	case p.TopLevel != nil:
		q = q.Where(category.ParentIDNotNil())
	}
	if p.Cursor != nil {
		after, err := decodeCategoryCursor(*p.Cursor)
		if err != nil {
			return nil, err
		}
		q = q.Where(s.slugAfter(after))
	}
	rows, err := q.Order(s.bySlug()).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: list categories: %w", err)
	}
	page := metadataapi.ListCategories200JSONResponse{Items: []metadataapi.Category{}}
	for _, c := range rows[:min(limit, len(rows))] {
		page.Items = append(page.Items, toCategory(c))
	}
	if len(rows) > limit {
		next := cursor.Encode(categoryCursor{Slug: &rows[limit-1].Slug})
		page.Page.NextCursor, page.Page.HasMore = &next, true
	}
	return page, nil
}

// CreateCategory implements metadataapi.StrictServerInterface.
func (s *Service) CreateCategory(ctx context.Context, req metadataapi.CreateCategoryRequestObject) (metadataapi.CreateCategoryResponseObject, error) {
	b := req.Body
	var errs fieldErrors
	names := checkNames(&errs, b.Names)
	now := s.clock()
	var out *metadatadb.Category
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTaxonomy(ctx, tx, false); err != nil {
			return err
		}
		c := s.txClient(tx)
		if b.ParentId != nil {
			if err := placeUnder(ctx, c, &errs, uuid.Nil, *b.ParentId); err != nil {
				return err
			}
		}
		if err := errs.err(); err != nil {
			return err
		}
		taken, err := c.Category.Query().Where(category.SlugEQ(b.Slug)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("metadata: look up the slug: %w", err)
		}
		if taken {
			return slugTaken(b.Slug)
		}
		out, err = c.Category.Create().
			SetSlug(b.Slug).
			SetNames(names).
			SetNillableParentID(b.ParentId).
			SetCreatedAt(now).
			SetUpdatedAt(now).
			Save(ctx)
		if err != nil {
			return err
		}
		return s.categoryUpserted(ctx, tx, out)
	})
	if database.IsUniqueViolation(err) {
		return nil, slugTaken(b.Slug)
	}
	if err != nil {
		return nil, storeError("create a category", err)
	}
	tag, loc := categoryETag(out.UpdatedAt), "/api/v1/metadata/categories/"+out.ID.String()
	return metadataapi.CreateCategory201JSONResponse{Body: toCategory(out), Headers: metadataapi.CreateCategory201ResponseHeaders{ETag: &tag, Location: &loc}}, nil
}

// GetCategory implements metadataapi.StrictServerInterface.
func (s *Service) GetCategory(ctx context.Context, req metadataapi.GetCategoryRequestObject) (metadataapi.GetCategoryResponseObject, error) {
	c, err := s.read.Category.Get(ctx, req.CategoryId)
	if metadatadb.IsNotFound(err) {
		return nil, noCategory()
	}
	if err != nil {
		return nil, fmt.Errorf("metadata: read a category: %w", err)
	}
	tag := categoryETag(c.UpdatedAt)
	return metadataapi.GetCategory200JSONResponse{Body: toCategory(c), Headers: metadataapi.GetCategory200ResponseHeaders{ETag: &tag}}, nil
}

// current reads category id for a change in a transaction: 404 when it does not exist, 412 when
// an If-Match header does not match it.
func current(ctx context.Context, c *metadatadb.Client, id uuid.UUID, ifMatchHeader *string) (*metadatadb.Category, error) {
	cat, err := c.Category.Get(ctx, id)
	if metadatadb.IsNotFound(err) {
		return nil, noCategory()
	}
	if err != nil {
		return nil, fmt.Errorf("metadata: read a category: %w", err)
	}
	if tag := categoryETag(cat.UpdatedAt); ifMatchHeader != nil && !etag.Match(*ifMatchHeader, tag) {
		return nil, apierror.PreconditionFailed("current ETag is " + tag)
	}
	return cat, nil
}

// UpdateCategory implements metadataapi.StrictServerInterface: it changes the fields present.
// Checks run in this order: existence (404), If-Match (412), the fields (422), the slug (409).
func (s *Service) UpdateCategory(ctx context.Context, req metadataapi.UpdateCategoryRequestObject) (metadataapi.UpdateCategoryResponseObject, error) {
	b := req.Body
	now := s.clock()
	var out *metadatadb.Category
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTaxonomy(ctx, tx, false); err != nil {
			return err
		}
		c := s.txClient(tx)
		cat, err := current(ctx, c, req.CategoryId, req.Params.IfMatch)
		if err != nil {
			return err
		}
		upd := c.Category.UpdateOne(cat).SetUpdatedAt(nextUpdate(now, cat.UpdatedAt))
		var errs fieldErrors
		if b.Names != nil {
			upd.SetNames(checkNames(&errs, *b.Names))
		}
		toTop := b.MoveToTopLevel != nil && *b.MoveToTopLevel
		switch {
		case toTop && b.ParentId != nil:
			errs.add("move_to_top_level", "exclusive", "cannot be combined with parent_id")
		case toTop:
			upd.ClearParentID()
		case b.ParentId != nil:
			if err := placeUnder(ctx, c, &errs, cat.ID, *b.ParentId); err != nil {
				return err
			}
			upd.SetParentID(*b.ParentId)
		}
		if err := errs.err(); err != nil {
			return err
		}
		if b.Slug != nil && *b.Slug != cat.Slug {
			taken, err := c.Category.Query().Where(category.SlugEQ(*b.Slug)).Exist(ctx)
			if err != nil {
				return fmt.Errorf("metadata: look up the slug: %w", err)
			}
			if taken {
				return slugTaken(*b.Slug)
			}
			upd.SetSlug(*b.Slug)
		}
		out, err = upd.Save(ctx)
		if err != nil {
			return err
		}
		return s.categoryUpserted(ctx, tx, out)
	})
	if b.Slug != nil && database.IsUniqueViolation(err) {
		return nil, slugTaken(*b.Slug)
	}
	if err != nil {
		return nil, storeError("update a category", err)
	}
	tag := categoryETag(out.UpdatedAt)
	return metadataapi.UpdateCategory200JSONResponse{Body: toCategory(out), Headers: metadataapi.UpdateCategory200ResponseHeaders{ETag: &tag}}, nil
}

// DeleteCategory implements metadataapi.StrictServerInterface. A category with children, or one
// that the current metadata version of a content item uses, stays (409).
func (s *Service) DeleteCategory(ctx context.Context, req metadataapi.DeleteCategoryRequestObject) (metadataapi.DeleteCategoryResponseObject, error) {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTaxonomy(ctx, tx, false); err != nil {
			return err
		}
		c := s.txClient(tx)
		cat, err := current(ctx, c, req.CategoryId, req.Params.IfMatch)
		if err != nil {
			return err
		}
		children, err := c.Category.Query().Where(category.ParentIDEQ(cat.ID)).Count(ctx)
		if err != nil {
			return fmt.Errorf("metadata: count child categories: %w", err)
		}
		if children > 0 {
			return inUse(fmt.Sprintf("the category has %d child categories", children))
		}
		// Every program and episode the CMS has, whatever its status, soft-deleted ones included
		// (they keep their category until purged), as the content events told this service.
		items, err := c.ContentItem.Query().Where(contentitem.CategoryIDEQ(cat.ID), contentitem.StateNEQ(statePurged)).Count(ctx)
		if err != nil {
			return fmt.Errorf("metadata: count the programs and episodes in the category: %w", err)
		}
		if items > 0 {
			return inUse(fmt.Sprintf("the category is used by %d programs and episodes", items))
		}
		if err := c.Category.DeleteOne(cat).Exec(ctx); err != nil {
			return fmt.Errorf("metadata: delete a category: %w", err)
		}
		return s.categoryDeleted(ctx, tx, cat.ID)
	})
	if err != nil {
		return nil, err
	}
	return metadataapi.DeleteCategory204Response{}, nil
}

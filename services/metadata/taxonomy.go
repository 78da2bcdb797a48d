package metadata

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/ent/metadatadb/category"
)

// maxDepth is how many levels the category tree may have; a top-level category is level 1.
const maxDepth = 5

// errNoCategory means a category that a request refers to does not exist.
var errNoCategory = errors.New("no such category")

// ancestry returns the ids from category id up to its top-level ancestor, id first, so its length
// is the level of id. It stops after maxDepth+1 steps: the service never builds a deeper chain (or a
// cycle), and the caller only needs to know that it is too deep.
func ancestry(ctx context.Context, c *metadatadb.Client, id uuid.UUID) ([]uuid.UUID, error) {
	var chain []uuid.UUID
	for next := &id; next != nil && len(chain) <= maxDepth; {
		cat, err := c.Category.Get(ctx, *next)
		if metadatadb.IsNotFound(err) && len(chain) == 0 {
			return nil, errNoCategory
		}
		if err != nil {
			return nil, fmt.Errorf("metadata: read the ancestors of category %s: %w", id, err)
		}
		chain = append(chain, cat.ID)
		next = cat.ParentID
	}
	return chain, nil
}

// height returns how many levels the subtree of category id has: 1 for a leaf. It stops counting
// past maxDepth.
func height(ctx context.Context, c *metadatadb.Client, id uuid.UUID) (int, error) {
	level, h := []uuid.UUID{id}, 1
	for h <= maxDepth {
		ids, err := c.Category.Query().Where(category.ParentIDIn(level...)).IDs(ctx)
		if err != nil {
			return 0, fmt.Errorf("metadata: read the descendants of category %s: %w", id, err)
		}
		if len(ids) == 0 {
			break
		}
		level, h = ids, h+1
	}
	return h, nil
}

// placeUnder checks that category id (uuid.Nil for a new one) may have parent as its parent:
// parent exists, is neither id nor one of its descendants, and the moved subtree stays within
// maxDepth levels. It records what is wrong on the field parent_id.
func placeUnder(ctx context.Context, c *metadatadb.Client, errs *fieldErrors, id, parent uuid.UUID) error {
	chain, err := ancestry(ctx, c, parent)
	if errors.Is(err, errNoCategory) {
		errs.add("parent_id", "unknown_reference", "unknown category")
		return nil
	}
	if err != nil {
		return err
	}
	for _, a := range chain {
		if a == id {
			errs.add("parent_id", "cycle", "must not be the category itself or one of its descendants")
			return nil
		}
	}
	h := 1
	if id != uuid.Nil {
		if h, err = height(ctx, c, id); err != nil {
			return err
		}
	}
	if len(chain)+h > maxDepth {
		errs.add("parent_id", "too_deep", fmt.Sprintf("the category tree is at most %d levels deep", maxDepth))
	}
	return nil
}

package kt
import (
 "testing"
 "github.com/getkin/kin-openapi/openapi3"
 "github.com/hamba/avro/v2"
 "gopkg.in/yaml.v3"
)
func TestX(t *testing.T){ _ = openapi3.NewLoader(); _ = avro.NewSchemaCompatibility(); var n yaml.Node; _ = n }

// Starts GraphiQL in the page's #graphiql element, against the endpoint its data attributes name.
// Served by the binary beside the UMD builds of React, ReactDOM and GraphiQL (dist/), so the page's
// Content-Security-Policy can allow scripts of its own origin only.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var props = {
    fetcher: GraphiQL.createFetcher({ url: root.dataset.endpoint }),
    defaultQuery: root.dataset.defaultQuery,
    defaultEditorToolsVisibility: true,
  };
  if (root.dataset.introspection !== "true") {
    props.schema = null; // the server refuses introspection: run queries without the schema's help
  }
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();

// Draw every chart with the inlined Vega runtime; <body data-charts> says when all are done
// ("drawn", or "failed" naming the charts that did not draw in data-chart-errors).
(function () {
  const specs = JSON.parse(document.getElementById("kam-charts").textContent);
  const failed = [];
  const drawn = Object.entries(specs).map(([name, spec]) => {
    const target = document.getElementById("chart-" + name);
    return vegaEmbed(target, spec, { renderer: "svg", actions: false })
      .then(() => { target.dataset.drawn = "true"; })
      .catch((error) => { failed.push(name); target.textContent = "chart not drawn: " + error; });
  });
  Promise.all(drawn).then(() => {
    document.body.dataset.chartErrors = failed.join(" ");
    document.body.dataset.charts = failed.length ? "failed" : "drawn";
  });
})();

// A customer's page: the caller-sentiment chart, drawn from the figure's data-points (one point per call).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const fig = document.getElementById("chart-sentiment");
  if (!fig) return;
  const points = JSON.parse(fig.dataset.points || "[]");
  Charts.lines(fig, {labels: points.map((p) => p.at.slice(0, 10)), ticks: [-5, -2.5, 0, 2.5, 5], unit: "sentiment",
    empty: "No analysed call yet.", caption: `Caller sentiment of ${points.length} analysed calls, oldest first.`,
    series: [{name: "sentiment", values: points.map((p) => p.value)}]});
});

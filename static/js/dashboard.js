// The organization dashboard's usage chart (templates/credits/dashboard.html).
//
// The data comes from the page's <script type="application/json" id="usage-chart-data">
// (Django's json_script), never from inline code, so a Content Security Policy without
// 'unsafe-inline' allows this page. Colours come from the stylesheet's custom properties
// (--fg, --muted, --border, --accent, --bg) and are read again when the colour scheme changes.
// Chart.js (static/vendor/chart.js/, see static/vendor/README.md) is loaded before this file.
(function () {
  "use strict";

  var canvas = document.getElementById("usage-chart");
  var source = document.getElementById("usage-chart-data");
  if (!canvas || !source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);

  // Okabe & Ito's palette, told apart with colour blindness too; lighter shades on dark pages.
  var LIGHT = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#8a7a00", "#6b6b6b"];
  var DARK = ["#56b4e9", "#f0b840", "#3cc79a", "#e09cc4", "#8fd0f5", "#f08040", "#f0e442", "#b0b0b0"];

  var probe = document.createElement("canvas").getContext("2d", { willReadFrequently: true });

  // Any CSS colour (hex, rgb(), hsl(), oklch() ...) as [r, g, b], through the canvas itself.
  function rgb(colour) {
    probe.clearRect(0, 0, 1, 1);
    probe.fillStyle = "#000";
    probe.fillStyle = colour;
    probe.fillRect(0, 0, 1, 1);
    var pixel = probe.getImageData(0, 0, 1, 1).data;
    return [pixel[0], pixel[1], pixel[2]];
  }

  function rgba(colour, alpha) {
    var c = rgb(colour);
    return "rgba(" + c[0] + ", " + c[1] + ", " + c[2] + ", " + alpha + ")";
  }

  function luminance(colour) {
    var c = rgb(colour);
    return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255;
  }

  function css(name, fallback) {
    var value = window.getComputedStyle(canvas).getPropertyValue(name).trim();
    return value || fallback;
  }

  function theme() {
    var fg = css("--fg", "#1d2330");
    var dark = luminance(fg) > 0.5; // light text: a dark page
    return {
      fg: fg,
      muted: css("--muted", dark ? "#a0a8b8" : "#5b6475"),
      grid: rgba(css("--border", css("--muted", "#5b6475")), dark ? 0.45 : 0.35),
      accent: css("--accent", dark ? "#7c9cff" : "#2f5bea"),
      surface: css("--card", css("--bg", dark ? "#111" : "#fff")),
      palette: dark ? DARK : LIGHT,
    };
  }

  function seriesColour(colours, series, index) {
    // One series (your own use): the accent. Several: "You" in the accent, the rest the palette.
    if (data.series.length === 1 || series.own) {
      return colours.accent;
    }
    return colours.palette[index % colours.palette.length];
  }

  function dayLabel(iso) {
    var day = new Date(iso + "T00:00:00Z");
    return day.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
  }

  function narrow() {
    return canvas.parentElement.clientWidth < 520;
  }

  var colours = theme();
  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function datasets() {
    return data.series.map(function (series, index) {
      var colour = seriesColour(colours, series, index);
      return {
        label: series.label,
        data: series.data,
        backgroundColor: colour,
        hoverBackgroundColor: colour,
        borderColor: colours.surface,
        borderWidth: data.series.length > 1 ? 1 : 0,
        borderSkipped: "bottom",
        maxBarThickness: 28,
      };
    });
  }

  function options() {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion ? false : { duration: 300 },
      interaction: { mode: "index", intersect: false },
      scales: {
        x: {
          stacked: true,
          grid: { display: false },
          border: { color: colours.grid },
          ticks: { color: colours.muted, maxRotation: 0, autoSkip: true, maxTicksLimit: narrow() ? 5 : 10 },
        },
        y: {
          stacked: true,
          beginAtZero: true,
          grid: { color: colours.grid },
          border: { display: false },
          ticks: { color: colours.muted, precision: 0, maxTicksLimit: 6 },
          title: { display: !narrow(), text: "credits", color: colours.muted },
        },
      },
      plugins: {
        legend: {
          display: data.series.length > 1,
          position: "bottom",
          labels: { color: colours.fg, boxWidth: 10, boxHeight: 10, font: { size: narrow() ? 11 : 12 } },
        },
        tooltip: {
          callbacks: {
            title: function (items) {
              return items.length ? dayLabel(data.days[items[0].dataIndex]) + " (UTC)" : "";
            },
            footer: function (items) {
              if (data.series.length < 2) {
                return "";
              }
              var total = items.reduce(function (sum, item) {
                return sum + item.parsed.y;
              }, 0);
              return "Total: " + total.toLocaleString();
            },
          },
        },
      },
      // Redraw tick density and the axis title when the box narrows (a phone turned, a window).
      onResize: function (chart) {
        chart.options.scales.x.ticks.maxTicksLimit = narrow() ? 5 : 10;
        chart.options.scales.y.title.display = !narrow();
        chart.options.plugins.legend.labels.font = { size: narrow() ? 11 : 12 };
      },
    };
  }

  var chart = new window.Chart(canvas, {
    type: "bar",
    data: { labels: data.days.map(dayLabel), datasets: datasets() },
    options: options(),
  });

  // The stylesheet answers prefers-color-scheme with other custom properties: read them again.
  function restyle() {
    colours = theme();
    chart.data.datasets = datasets();
    chart.options = options();
    chart.update("none");
  }
  var scheme = window.matchMedia("(prefers-color-scheme: dark)");
  if (scheme.addEventListener) {
    scheme.addEventListener("change", restyle);
  } else if (scheme.addListener) {
    scheme.addListener(restyle); // Safari before 14
  }
})();

/* Draws the oversight charts with Chart.js (loaded before this file as window.Chart).
   Each <canvas data-app-chart='{...}'> carries its figures; the table after it has the same
   figures for anyone who prefers or needs them, so nothing is lost without JavaScript. */
(function () {
  'use strict'
  if (!window.Chart) return

  // GOV.UK Design System colours, distinguishable in greyscale when stacked.
  var colours = ['#1d70b8', '#d4351c', '#f47738', '#00703c', '#4c2c92', '#505a5f']

  document.querySelectorAll('canvas[data-app-chart]').forEach(function (canvas) {
    var spec
    try {
      spec = JSON.parse(canvas.getAttribute('data-app-chart'))
    } catch (error) {
      return
    }
    var datasets = spec.datasets.map(function (dataset, index) {
      return {
        label: dataset.label,
        data: dataset.data,
        backgroundColor: colours[index % colours.length],
        borderWidth: 0
      }
    })
    var scale = { stacked: !!spec.stacked, ticks: { precision: 0 }, beginAtZero: true }
    canvas.closest('.app-chart').classList.add('app-chart--drawn')
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: spec.horizontal ? 'y' : 'x',
        maintainAspectRatio: false,
        animation: false,
        scales: { x: scale, y: scale },
        plugins: {
          legend: { display: datasets.length > 1, position: 'bottom' }
        }
      }
    })
  })
})()

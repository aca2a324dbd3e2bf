window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.dataset.imagesLoaded = String(ok);
  document.body.dataset.imageCount = String(imgs.length);
  // what a reader sees: images laid out with a size, and where each section sits (CSS px)
  var shown = imgs.filter(function (i) { return i.offsetWidth > 0 && i.offsetHeight > 0; });
  document.body.dataset.imagesVisible = String(shown.length);
  var boxes = {};
  Array.prototype.forEach.call(document.querySelectorAll('section'), function (s) {
    var r = s.getBoundingClientRect();
    boxes[s.id] = [Math.round(r.top + window.scrollY), Math.round(r.height)];
  });
  document.body.dataset.sectionBoxes = JSON.stringify(boxes);
});

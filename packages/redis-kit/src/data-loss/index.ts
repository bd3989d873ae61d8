export { DataLossMarker, type DataLossMarkerOptions, type MarkerCheck } from './data-loss-marker.js';

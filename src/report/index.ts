/** HTML reports with charts, written without a browser. */
export { writeTrainReport, writeEvalReport, writeCompareReport, type TrainReportInput, type EvalReportInput, type CompareReportInput, type WrittenReport, type Summary } from './report.js';
export { renderReport, escapeHtml, type ReportContent, type Section, type Block, type Cell } from './html.js';
export { historyChart, rocChart, calibrationChart, comparisonChart, renderSvg, svgToPng, type Chart } from './charts.js';

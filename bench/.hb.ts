import { benchHttp, formatHttp } from './http.js';
console.log('denied'); console.log(formatHttp(await benchHttp(10_000, 5, '20-set-image-deployment-by-alice')));
console.log('allowed'); console.log(formatHttp(await benchHttp(10_000, 5, '11-apply-unchanged-deployment-by-argocd')));

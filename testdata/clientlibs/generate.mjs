// Prints, as JSON, the URLs the imgix and Cloudflare client libraries
// generate for a photo, as a site migrating to imgedge has them in its
// pages. The host is a placeholder the test replaces with its own.
//
//	node generate.mjs <imgix secure URL token>
import ImgixClient from '@imgix/js-core';
import { transform as unpicImgix } from 'unpic/providers/imgix';
import { transform as unpicCloudflare } from 'unpic/providers/cloudflare';

const host = 'imgedge.test';
const token = process.argv[2];
const imgix = new ImgixClient({ domain: host, secureURLToken: token, useHTTPS: false });

const srcset = (s) => s.split(',\n').map((entry) => entry.trim().split(' ')[0]);

console.log(JSON.stringify({
  // imgix's own library, signed with the token.
  imgixCrop: imgix.buildURL('/photo.jpg', { w: 320, ar: '16:9', fit: 'crop' }),
  imgixFacesCrop: imgix.buildURL('/photo.jpg', { w: 300, h: 300, fit: 'crop', crop: 'faces,center' }),
  imgixWidths: srcset(imgix.buildSrcSet('/photo.jpg', { ar: '16:9', fit: 'crop' }, { minWidth: 200, maxWidth: 600, widthTolerance: 0.5 })),
  imgixDPR: srcset(imgix.buildSrcSet('/photo.jpg', { w: 100 })),
  // unpic's providers, unsigned.
  unpicImgix: unpicImgix(`http://${host}/photo.jpg`, { width: 400, height: 300 }),
  unpicCloudflare: unpicCloudflare(`http://${host}/photo.jpg`, { width: 400, height: 300 }, { domain: host }),
  unpicCloudflarePath: unpicCloudflare(`http://${host}/cdn-cgi/image/width=100/photo.jpg`, { width: 240, height: 240 }),
}));
